"""Request checks the real API makes, with its status codes, wording, ``param`` and ``code``.

Each check raises :class:`~grader.stub.errors.APIError`; the first failure is what the caller
sees, as with the real service. Cross-message rules (tool results must answer a preceding
assistant ``tool_calls``) are not expressible in the OpenAPI spec, so they live here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from grader.stub.conversation import Tool
from grader.stub.errors import APIError, invalid, missing, wrong_type
from grader.stub.models import ModelInfo, require_kind
from grader.stub.schema_instance import strict_schema_error

CHAT_ROLES = ("system", "assistant", "user", "function", "tool", "developer")
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def quoted_choices(values: tuple[str, ...]) -> str:
    """``'a', 'b', and 'c'``: how the real API lists allowed values."""
    quoted = [f"'{v}'" for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def invalid_value(value: Any, allowed: tuple[str, ...], param: str) -> APIError:
    return invalid(
        f"Invalid value: '{value}'. Supported values are: {quoted_choices(allowed)}.",
        param=param,
        code="invalid_value",
    )


def check_model(body: Mapping[str, Any], kind: str, endpoint: str) -> ModelInfo:
    model = body.get("model")
    if model is None or model == "":
        raise invalid("you must provide a model parameter")
    if not isinstance(model, str):
        raise wrong_type("model", "a string", model)
    return require_kind(model, kind, endpoint)


def check_number(body: Mapping[str, Any], name: str, low: float, high: float | None, *, integer: bool) -> None:
    """Range and type check of an optional numeric field, in the real API's words."""
    value = body.get(name)
    if value is None:
        return
    noun = "integer" if integer else "decimal"
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        raise wrong_type(name, "an integer" if integer else "a decimal", value)
    if value < low:
        raise invalid(
            f"Invalid '{name}': {noun} below minimum value. Expected a value >= {low:g}, but got {value} instead.",
            param=name,
            code=f"{noun}_below_min_value",
        )
    if high is not None and value > high:
        raise invalid(
            f"Invalid '{name}': {noun} above maximum value. Expected a value <= {high:g}, but got {value} instead.",
            param=name,
            code=f"{noun}_above_max_value",
        )


def check_sampling(body: Mapping[str, Any], token_limits: tuple[str, ...]) -> None:
    for name in token_limits:
        check_number(body, name, 1, None, integer=True)
    check_number(body, "temperature", 0, 2, integer=False)
    check_number(body, "top_p", 0, 1, integer=False)


def check_tool_name(name: Any, param: str) -> str:
    if not name:
        raise missing(param)
    if not isinstance(name, str) or not _TOOL_NAME.match(name):
        raise invalid(
            f"Invalid '{param}': string does not match pattern. Expected a string that matches the pattern "
            "'^[a-zA-Z0-9_-]+$'.",
            param=param,
            code="invalid_value",
        )
    return name


def check_strict(schema: Any, label: str, param: str, code: str | None) -> None:
    """Strict-mode schema rules (``strict: true``), reported as the real API does."""
    problem = strict_schema_error(schema)
    if problem:
        raise invalid(f"Invalid schema for {label}: {problem}", param=param, code=code)


def make_tool(spec: Mapping[str, Any], where: str) -> Tool:
    """A function tool from its spec (chat nests it under ``function``, Responses does not)."""
    name = check_tool_name(spec.get("name"), f"{where}.name")
    parameters = spec.get("parameters") or {"type": "object", "properties": {}}
    if spec.get("strict"):
        check_strict(parameters, f"function '{name}'", f"{where}.parameters", "invalid_function_parameters")
    return Tool(name, spec.get("description") or "", parameters, bool(spec.get("strict")))


def tool_choice(choice: Any, named: Any, tools: tuple[Tool, ...]) -> str:
    """``auto``/``none``/``required``, or the name of the forced function (``named``, taken from
    the endpoint's own object form) after checking that it is offered."""
    if choice is None:
        return "auto" if tools else "none"
    if not tools:
        raise invalid(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            param="tool_choice",
        )
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise invalid_value(choice, ("none", "auto", "required"), "tool_choice")
        return choice
    if not any(t.name == named for t in tools):
        raise invalid(f"Invalid value for 'tool_choice': function '{named}' not found in 'tools'.", param="tool_choice")
    return str(named)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def check_messages(messages: Any) -> None:
    """Shape of each chat message, then the tool-call pairing rules across messages."""
    if messages is None:
        raise missing("messages")
    if not isinstance(messages, list):
        raise wrong_type("messages", "an array", messages)
    if not messages:
        raise invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    for i, message in enumerate(messages):
        _check_message(message, i)
    _check_tool_pairing(messages)


def _check_message(message: Any, i: int) -> None:
    where = f"messages[{i}]"
    if not isinstance(message, dict):
        raise wrong_type(where, "an object", message)
    role = message.get("role")
    if role is None:
        raise missing(f"{where}.role")
    if role not in CHAT_ROLES:
        raise invalid_value(role, CHAT_ROLES, f"{where}.role")
    content = message.get("content")
    if role != "assistant" and "content" not in message:
        raise missing(f"{where}.content")
    if content is not None and not isinstance(content, (str, list)):
        raise wrong_type(f"{where}.content", "one of a string or array of objects", content)
    if role == "assistant" and content is None and not message.get("tool_calls") and not message.get("refusal"):
        raise invalid("Invalid value for 'content': expected a string, got null.", param=f"messages.[{i}].content")
    if role == "tool" and not message.get("tool_call_id"):
        raise missing(f"{where}.tool_call_id")
    for k, call in enumerate(message.get("tool_calls") or []) if role == "assistant" else ():
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(call, dict) or not call.get("id"):
            raise missing(f"{where}.tool_calls[{k}].id")
        if not isinstance(function, dict):
            raise missing(f"{where}.tool_calls[{k}].function")
        check_tool_name(function.get("name"), f"{where}.tool_calls[{k}].function.name")
        if not isinstance(function.get("arguments"), str):
            raise missing(f"{where}.tool_calls[{k}].function.arguments")


def _unanswered(ids: list[str], param_index: int) -> APIError:
    return invalid(
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
        f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(ids)}",
        param=f"messages.[{param_index}].role",
    )


def _check_tool_pairing(messages: list[dict]) -> None:
    """Tool messages must directly follow an assistant ``tool_calls`` message and answer its ids;
    every id must be answered before the conversation moves on."""
    open_ids: list[str] = []  # ids of the assistant message whose results are being read
    unanswered: list[str] = []
    opened_at = -1
    for i, message in enumerate(messages):
        if message["role"] == "tool":
            if opened_at < 0:
                raise invalid(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
                    "with 'tool_calls'.",
                    param=f"messages.[{i}].role",
                )
            call_id = message["tool_call_id"]
            if call_id not in open_ids:
                raise invalid(
                    f"Invalid parameter: 'tool_call_id' of '{call_id}' not found in 'tool_calls' of previous message.",
                    param=f"messages.[{i}].tool_call_id",
                )
            if call_id in unanswered:
                unanswered.remove(call_id)
            continue
        if unanswered:
            raise _unanswered(unanswered, i)
        opened_at = -1
        if message["role"] == "assistant" and message.get("tool_calls"):
            open_ids = [c["id"] for c in message["tool_calls"]]
            unanswered = list(open_ids)
            opened_at = i
    if unanswered:
        raise _unanswered(unanswered, opened_at)


def chat_text(message: Mapping[str, Any]) -> str:
    """The text of a chat message's content (a string or text parts)."""
    return _text_of(message.get("content"))
