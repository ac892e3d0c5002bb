"""Reasoning models (o-series, gpt-5 family): their parameter rules and their hidden reasoning.

The real API rejects, for these models, the sampling parameters they do not take (``max_tokens``,
a non-default ``temperature`` or ``top_p``, ``logprobs``, penalties) and, for other models, the
reasoning parameters (chat's ``reasoning_effort`` is then an unrecognized argument; the Responses
API's ``reasoning.effort`` is unsupported). A reasoning model spends
hidden tokens before it answers; they count against ``max_completion_tokens`` /
``max_output_tokens``, so a small limit gives the classic empty reply with
``finish_reason: "length"``. The count is deterministic: a base per effort plus a share of the
prompt.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from grader.stub.errors import APIError, invalid
from grader.stub.validation import quoted_choices

DEFAULT_EFFORT = "medium"
_EFFORTS_O_SERIES = ("low", "medium", "high")
_EFFORTS_GPT5 = ("minimal", "low", "medium", "high")
_BASE_TOKENS = {"minimal": 0, "low": 64, "medium": 192, "high": 512}
_PROMPT_SHARE = 0.25  # reasoning grows with the prompt: a quarter of its tokens, in blocks of 64
_PENALTIES = ("presence_penalty", "frequency_penalty")


def is_reasoning(model: str) -> bool:
    """o1/o3/o4 models and the gpt-5 family (snapshots included)."""
    return model.startswith(("o1", "o3", "o4", "gpt-5"))


def _efforts(model: str) -> tuple[str, ...]:
    return _EFFORTS_GPT5 if model.startswith("gpt-5") else _EFFORTS_O_SERIES


def unsupported_parameter(name: str, hint: str = "") -> APIError:
    return invalid(
        f"Unsupported parameter: '{name}' is not supported with this model.{hint}",
        param=name,
        code="unsupported_parameter",
    )


def _default_only(body: Mapping[str, Any], name: str) -> None:
    value = body.get(name)
    if value is not None and value != 1:
        raise invalid(
            f"Unsupported value: '{name}' does not support {value} with this model. "
            "Only the default (1) value is supported.",
            param=name,
            code="unsupported_value",
        )


def _effort(model: str, effort: Any, param: str) -> str:
    allowed = _efforts(model)
    if effort is None:
        return DEFAULT_EFFORT
    if effort not in allowed:
        raise invalid(
            f"Unsupported value: '{param}' does not support '{effort}' with this model. "
            f"Supported values are: {quoted_choices(allowed)}.",
            param=param,
            code="unsupported_value",
        )
    return str(effort)


def _verbosity(model: str, value: Any, param: str) -> None:
    if value is not None and value != "medium" and not model.startswith("gpt-5"):
        raise invalid(
            f"Unsupported value: '{value}' is not supported with this model. Supported values are: 'medium'.",
            param=param,
            code="unsupported_value",
        )


def check_chat(body: Mapping[str, Any], model: str) -> str | None:
    """Chat Completions rules per model family; the reasoning effort for a reasoning model, else None."""
    _verbosity(model, body.get("verbosity"), "verbosity")
    if not is_reasoning(model):
        if body.get("reasoning_effort") is not None:  # live, other models do not know the name at all
            raise invalid("Unrecognized request argument supplied: reasoning_effort")
        return None
    if body.get("max_tokens") is not None:
        raise unsupported_parameter("max_tokens", " Use 'max_completion_tokens' instead.")
    _default_only(body, "temperature")
    _default_only(body, "top_p")
    if body.get("logprobs") or body.get("top_logprobs") is not None:
        raise unsupported_parameter("logprobs" if body.get("logprobs") else "top_logprobs")
    for name in _PENALTIES:
        if body.get(name):
            raise unsupported_parameter(name)
    return _effort(model, body.get("reasoning_effort"), "reasoning_effort")


def check_responses(body: Mapping[str, Any], model: str) -> str | None:
    """Responses API rules per model family; the reasoning effort for a reasoning model, else None."""
    reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
    text = body.get("text") if isinstance(body.get("text"), dict) else {}
    _verbosity(model, text.get("verbosity"), "text.verbosity")
    if not is_reasoning(model):
        if reasoning.get("effort") is not None:
            raise unsupported_parameter("reasoning.effort")
        return None
    _default_only(body, "temperature")
    _default_only(body, "top_p")
    if body.get("top_logprobs") is not None:
        raise unsupported_parameter("top_logprobs")
    return _effort(model, reasoning.get("effort"), "reasoning.effort")


def tokens(effort: str | None, prompt_tokens: int) -> int:
    """Hidden reasoning tokens for a request: 0 for other models, else a multiple of 64."""
    if effort is None or _BASE_TOKENS[effort] == 0:
        return 0
    return _BASE_TOKENS[effort] + 64 * math.floor(prompt_tokens * _PROMPT_SHARE / 64)
