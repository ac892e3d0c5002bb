"""Scenario rules: what the stub model says, scripted by a test as plain JSON-able dicts.

A rule is ``{"when": {...}, "reply": {...}}`` or ``{"when": {...}, "steps": [{...}, ...]}``.
The first rule whose conditions all hold answers. A multi-step script reads its progress from
the conversation itself (the number of assistant turns since the latest user message), so the
stub stays stateless: the same request always gets the same answer. When a script has no step
left the rule stops matching and later rules (or the default answerer) take over.

Conditions (all case-insensitive; a string or a list of strings that must all appear):
``user_contains``, ``system_contains``, ``any_contains``, ``tool_result_contains``,
``user_matches`` (a regex on the latest user message), ``model``, ``tools`` (names that must be
offered), ``response_format`` (``text``/``json_object``/``json_schema``).

A reply has one of ``content`` (text; ``{{user}}``, ``{{tool_result}}`` and
``{{tool_result:NAME}}`` are filled in), ``json`` (any JSON value, sent as the content),
``tool_calls`` (``[{"name", "arguments"?, "id"?}]``; several make parallel calls; omitted
arguments are a valid instance of the offered tool's schema) or ``refusal``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from grader.stub.answerer import call_tool
from grader.stub.conversation import Generation, Prompt, Tool

_TEXT_CONDITIONS = ("user_contains", "system_contains", "any_contains", "tool_result_contains")
_CONDITIONS = frozenset((*_TEXT_CONDITIONS, "user_matches", "model", "tools", "response_format"))
_REPLY_KINDS = ("content", "json", "tool_calls", "refusal")
_TEMPLATE = re.compile(r"\{\{\s*(user|tool_result)(?::([\w-]+))?\s*\}\}")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    values = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, list) else None
    if values is None or not all(isinstance(v, str) for v in values):
        raise ValueError(f"{where} must be a string or a list of strings")
    return values


def _check_reply(reply: Any, where: str) -> dict:
    if not isinstance(reply, dict):
        raise ValueError(f"{where} must be an object")
    kinds = [k for k in _REPLY_KINDS if k in reply]
    unknown = set(reply) - set(_REPLY_KINDS)
    if unknown or (len(kinds) != 1 and set(kinds) != {"content", "tool_calls"}):
        raise ValueError(
            f"{where} needs exactly one of {', '.join(_REPLY_KINDS)} (content may go with tool_calls); "
            f"got {sorted(reply)}"
        )
    for call in reply.get("tool_calls", []):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise ValueError(f"{where}.tool_calls entries need a 'name'")
    return reply


@dataclass(frozen=True)
class Rule:
    when: dict
    steps: tuple[dict, ...]
    name: str = ""

    @classmethod
    def from_dict(cls, data: Any) -> Rule:
        """Validate a rule dict, failing loudly on typos rather than never matching."""
        if not isinstance(data, dict):
            raise ValueError("a rule must be an object")
        unknown = set(data) - {"name", "when", "reply", "steps"}
        if unknown:
            raise ValueError(f"unknown rule keys: {sorted(unknown)}")
        when = data.get("when", {})
        if not isinstance(when, dict) or set(when) - _CONDITIONS:
            raise ValueError(f"unknown 'when' conditions: {sorted(set(when) - _CONDITIONS)}")
        for key in (*_TEXT_CONDITIONS, "tools"):
            if key in when:
                _strings(when[key], f"when.{key}")
        if "user_matches" in when:
            re.compile(when["user_matches"])
        if ("reply" in data) == ("steps" in data):
            raise ValueError("a rule needs either 'reply' or 'steps'")
        steps = [data["reply"]] if "reply" in data else data["steps"]
        if not isinstance(steps, list) or not steps:
            raise ValueError("'steps' must be a non-empty list")
        checked = tuple(_check_reply(step, f"step {i}") for i, step in enumerate(steps))
        return cls(when=when, steps=checked, name=str(data.get("name", "")))

    def matches(self, prompt: Prompt) -> bool:
        user = prompt.last("user")
        user_text = user.text if user else ""
        texts = {
            "user_contains": user_text,
            "system_contains": "\n".join(t.text for t in prompt.turns if t.role in ("system", "developer")),
            "any_contains": "\n".join(t.text for t in prompt.turns),
            "tool_result_contains": "\n".join(t.text for t in prompt.since_last_user() if t.role == "tool"),
        }
        for key, haystack in texts.items():
            if key in self.when and not all(s.lower() in haystack.lower() for s in _strings(self.when[key], key)):
                return False
        when = self.when
        offered = {t.name for t in prompt.tools}
        return (
            ("user_matches" not in when or re.search(when["user_matches"], user_text, re.IGNORECASE) is not None)
            and ("model" not in when or when["model"] == prompt.model)
            and ("tools" not in when or set(_strings(when["tools"], "tools")) <= offered)
            and ("response_format" not in when or when["response_format"] == prompt.output.kind)
        )

    def step_for(self, prompt: Prompt) -> dict | None:
        """The scripted step for this point of the conversation, or None once the script is done."""
        done = sum(1 for t in prompt.since_last_user() if t.role == "assistant")
        return self.steps[done] if done < len(self.steps) else None


def _fill(template: str, prompt: Prompt) -> str:
    def value(match: re.Match) -> str:
        if match.group(1) == "user":
            user = prompt.last("user")
            return user.text if user else ""
        results = [t for t in prompt.since_last_user() if t.role == "tool"]
        if match.group(2):
            results = [t for t in results if t.name == match.group(2)]
        return results[-1].text if results else ""

    return _TEMPLATE.sub(value, template)


def render(step: dict, prompt: Prompt) -> Generation:
    """Turn a scripted step into what the model says."""
    if "refusal" in step:
        return Generation(refusal=str(step["refusal"]))
    if "json" in step:
        return Generation(content=json.dumps(step["json"]))
    content = _fill(step["content"], prompt) if "content" in step else None
    calls = []
    for index, spec in enumerate(step.get("tool_calls", [])):
        call = call_tool(prompt, prompt.tool(spec["name"]) or Tool(spec["name"]), spec.get("arguments"), index)
        calls.append(replace(call, id=spec["id"]) if "id" in spec else call)
    return Generation(content=content, tool_calls=tuple(calls), finish_reason="tool_calls" if calls else "stop")


class Scenario:
    """An ordered list of rules; immutable, so a request reads a consistent snapshot."""

    def __init__(self, rules: Iterable[Any] = ()) -> None:
        self.rules: tuple[Rule, ...] = tuple(r if isinstance(r, Rule) else Rule.from_dict(r) for r in rules)

    def extended(self, rules: Iterable[Any]) -> Scenario:
        return Scenario((*self.rules, *rules))

    def decide(self, prompt: Prompt) -> Generation | None:
        """The first matching rule's answer, or None to let the default answerer speak."""
        for rule in self.rules:
            if rule.matches(prompt):
                step = rule.step_for(prompt)
                if step is not None:
                    return render(step, prompt)
        return None
