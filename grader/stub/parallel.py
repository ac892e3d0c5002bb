"""Parallel tool calls when a request plausibly asks for several, as real models make them.

"Weather in Paris, Rome and Oslo" to a tool with a ``city``-like parameter gets three calls, one
per listed name, unless ``parallel_tool_calls`` is false. Code that answers only
``tool_calls[0]`` then fails offline with the real API's 400 for unanswered tool calls, as it
would live. Only an explicit list of capitalised names (``A, B and C``, ``A or B``) counts, so a
single place, or a name mentioned in passing, still gets one call.
"""

from __future__ import annotations

import re

from grader.stub.answerer import ENTITY_FIELDS, call_tool, string_hint
from grader.stub.conversation import Prompt, Tool, ToolCall
from grader.stub.schema_instance import instance_for

_NAME = r"[A-Z][a-zA-Z]+(?: [A-Z][a-zA-Z]+)*"
_SEPARATOR = r"\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or|&)\s+"
_SCANNED = 2000  # characters of the user message searched: bounds the regex on hostile input
_LISTED = re.compile(rf"(?<![.?!]\s)(?<!^)\b{_NAME}(?:(?:{_SEPARATOR}){_NAME})+")


def listed_names(text: str) -> list[str]:
    """The names of the longest explicit list in ``text`` (``["Paris", "Rome", "Oslo"]``), or []."""
    lists = [re.split(_SEPARATOR, m.group(0)) for m in _LISTED.finditer(text[:_SCANNED])]
    longest = max(lists, key=len, default=[])
    return list(dict.fromkeys(longest))


def _entity_fields(tool: Tool) -> bool:
    properties = (tool.parameters or {}).get("properties") or {}
    return any(name.lower() in ENTITY_FIELDS for name in properties)


def calls_for(prompt: Prompt, tool: Tool) -> tuple[ToolCall, ...]:
    """One call to ``tool``, or one per listed name when parallel calls are allowed and fit."""
    user = prompt.last("user")
    names = listed_names(user.text) if user and prompt.parallel_tool_calls and _entity_fields(tool) else []
    if len(names) < 2:
        return (call_tool(prompt, tool),)
    base = string_hint(prompt)
    calls = []
    for index, name in enumerate(names):

        def hint(field: str, name: str = name) -> str | None:
            return name if field.lower() in ENTITY_FIELDS else base(field)

        arguments = instance_for(tool.parameters or {"type": "object"}, hint)
        calls.append(call_tool(prompt, tool, arguments, index))
    return tuple(calls)
