"""From prompt to what the model says: scenario rule or default answer, then faults and limits."""

from __future__ import annotations

import json
from dataclasses import replace

from grader.stub import agent_policy, booking_model, reasoning
from grader.stub.answerer import default_generation, string_hint
from grader.stub.conversation import Generation, Prompt, completion_tokens, prompt_tokens
from grader.stub.faults import Fault
from grader.stub.scenario import Scenario
from grader.stub.schema_instance import violating_instance

REFUSAL = "I'm sorry, but I can't help with that request."


def decide(prompt: Prompt, scenario: Scenario, fault: Fault | None = None) -> Generation:
    """What the model means to say: a scenario rule or the default answer, with a content fault
    (deterministic for a given scenario and fault; ``choices.py`` then finishes each choice)."""
    generation = (scenario.decide(prompt) or booking_model.answer(prompt) or agent_policy.decide(prompt)
                  or default_generation(prompt))
    if fault is not None:
        generation = _apply_fault(generation, fault, prompt)
    return generation


def finish(generation: Generation, prompt: Prompt) -> Generation:
    """What is sent: cut at a ``stop`` sequence, then hidden reasoning and the visible answer
    share the token limit (reasoning that uses it all leaves an empty reply)."""
    generation = _stop(generation, prompt.stop)
    spent = reasoning.tokens(prompt.reasoning_effort, prompt_tokens(prompt))
    limit = prompt.max_tokens
    if spent and limit is not None and spent >= limit:
        return Generation(content="", reasoning_tokens=limit, finish_reason="length")
    generation = replace(generation, reasoning_tokens=spent)
    return _limit(generation, None if limit is None else limit - spent)


def _stop(generation: Generation, stop: tuple[str, ...]) -> Generation:
    """Content ends before the first stop sequence, which is not sent (finish_reason stays ``stop``)."""
    text = generation.content
    if not stop or not text or generation.tool_calls:
        return generation
    end = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return generation if end < 0 else replace(generation, content=text[:end], finish_reason="stop")


def _cut(generation: Generation, keep: float | int) -> Generation:
    """Truncate content and tool-call arguments, as a model stopped mid-answer would leave them.

    ``keep`` is a fraction of each text (float) or a number of characters (int).
    """

    def cut(text: str) -> str:
        size = int(len(text) * keep) if isinstance(keep, float) else keep
        return text[: min(size, max(len(text) - 1, 0))]

    return replace(
        generation,
        content=cut(generation.content) if generation.content is not None else None,
        tool_calls=tuple(replace(c, arguments=cut(c.arguments)) for c in generation.tool_calls),
        finish_reason="length",
    )


def _apply_fault(generation: Generation, fault: Fault, prompt: Prompt) -> Generation:
    if fault.kind == "refusal":
        return Generation(refusal=str(fault.params.get("message", REFUSAL)))
    if fault.kind == "truncate":
        return _cut(generation, 0.5)
    if fault.kind == "malformed_json":
        if generation.tool_calls:
            return replace(
                generation,
                tool_calls=tuple(replace(c, arguments=c.arguments[:-1]) for c in generation.tool_calls),
            )
        content = generation.content or "{}"
        return replace(generation, content="Sure! Here is the JSON:\n```json\n" + content[:-1])
    if fault.kind == "schema_violation":
        if generation.tool_calls:
            calls = tuple(
                replace(c, arguments=json.dumps(violating_instance(_params_of(prompt, c.name))))
                for c in generation.tool_calls
            )
            return replace(generation, tool_calls=calls)
        broken = violating_instance(prompt.output.schema, string_hint(prompt))
        return replace(generation, content=json.dumps(broken))
    return generation


def _params_of(prompt: Prompt, name: str) -> dict | None:
    tool = prompt.tool(name)
    return tool.parameters if tool else None


def _limit(generation: Generation, max_tokens: int | None) -> Generation:
    if max_tokens is None or completion_tokens(generation) <= max_tokens:
        return generation
    return _cut(generation, max_tokens * 4)
