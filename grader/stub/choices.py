"""``n`` choices that differ, deterministically, as sampled answers do.

Choice 0 is the answer a single-choice request gets. Later choices of a plain-text answer open
with a different phrase, and tool calls get their own ids; a JSON answer (a schema or
``json_object``) is the same in every choice, so it stays valid. Each choice is cut at ``stop``
and at the token limit on its own.
"""

from __future__ import annotations

from dataclasses import replace

from grader.stub.conversation import Generation, Prompt, stable_id
from grader.stub.faults import Fault
from grader.stub.generation import decide, finish
from grader.stub.scenario import Scenario

_OPENERS = ("", "In short: ", "Put another way: ", "To sum up: ", "Briefly: ", "Simply put: ", "In brief: ")


def variant(generation: Generation, prompt: Prompt, index: int) -> Generation:
    """The ``index``-th sampled variant of ``generation`` (index 0 is the generation itself)."""
    if index == 0:
        return generation
    calls = tuple(replace(c, id=stable_id("call_", c.id, index)) for c in generation.tool_calls)
    content = generation.content
    if content and prompt.output.kind == "text" and generation.refusal is None:
        opener = _OPENERS[index] if index < len(_OPENERS) else f"Answer {index + 1}: "
        content = opener + content
    return replace(generation, content=content, tool_calls=calls)


def generate_choices(prompt: Prompt, scenario: Scenario, fault: Fault | None, n: int) -> list[Generation]:
    """One finished generation per choice."""
    meant = decide(prompt, scenario, fault)
    return [finish(variant(meant, prompt, i), prompt) for i in range(n)]
