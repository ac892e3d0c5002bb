"""What the "model" sees and says, independent of the endpoint it was asked through.

Chat Completions and the Responses API both parse their request into a :class:`Prompt` and
format a :class:`Generation`; scenario rules and the default answerer work on these only.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Turn:
    """One message. ``name`` on a tool result is the function it answers (resolved from its call)."""

    role: str
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Tool:
    name: str
    description: str = ""
    parameters: dict = field(default_factory=dict)
    strict: bool = False


@dataclass(frozen=True)
class OutputFormat:
    kind: str = "text"  # "text", "json_object" or "json_schema"
    name: str = ""
    schema: dict | None = None
    strict: bool = False


@dataclass(frozen=True)
class Prompt:
    model: str
    turns: tuple[Turn, ...]
    tools: tuple[Tool, ...] = ()
    tool_choice: str = "auto"  # "auto", "none", "required", or a function name
    output: OutputFormat = OutputFormat()
    max_tokens: int | None = None
    parallel_tool_calls: bool = True
    stop: tuple[str, ...] = ()  # chat's ``stop`` sequences
    reasoning_effort: str | None = None  # set for reasoning models only (see reasoning.py)

    def last(self, role: str) -> Turn | None:
        return next((t for t in reversed(self.turns) if t.role == role), None)

    def since_last_user(self) -> tuple[Turn, ...]:
        """The turns after the latest user message: where a multi-step script reads its progress."""
        for index in range(len(self.turns) - 1, -1, -1):
            if self.turns[index].role == "user":
                return self.turns[index + 1 :]
        return self.turns

    def tool(self, name: str) -> Tool | None:
        return next((t for t in self.tools if t.name == name), None)


@dataclass(frozen=True)
class Generation:
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    refusal: str | None = None
    finish_reason: str = "stop"
    reasoning_tokens: int = 0  # hidden tokens a reasoning model spent before answering


def count_tokens(text: str) -> int:
    """Approximate tokens (~4 characters each): deterministic and close enough for budgets."""
    return math.ceil(len(text) / 4) if text else 0


def prompt_tokens(prompt: Prompt) -> int:
    """Tokens billed for the input: message texts plus a small per-message overhead, and tools."""
    total = 3
    for turn in prompt.turns:
        total += 3 + count_tokens(turn.text) + sum(count_tokens(c.name + c.arguments) for c in turn.tool_calls)
    for tool in prompt.tools:
        total += count_tokens(tool.name + tool.description + json.dumps(tool.parameters))
    if prompt.output.schema:
        total += count_tokens(json.dumps(prompt.output.schema))
    return total


def completion_tokens(generation: Generation) -> int:
    """Tokens of the visible answer (reasoning tokens are billed on top, see ``billed_tokens``)."""
    text = (generation.content or "") + (generation.refusal or "")
    return count_tokens(text) + sum(count_tokens(c.name + c.arguments) for c in generation.tool_calls)


def billed_tokens(generation: Generation) -> int:
    """Output tokens as usage reports them: the visible answer plus hidden reasoning."""
    return completion_tokens(generation) + generation.reasoning_tokens


def stable_id(prefix: str, *parts: Any, length: int = 24) -> str:
    """An id derived from its inputs, so the same request gets the same answer byte for byte."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return prefix + digest[:length]
