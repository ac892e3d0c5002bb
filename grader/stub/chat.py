"""``POST /v1/chat/completions``: request checks, the prompt, and the completion (or its chunks)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from grader.stub import params, reasoning
from grader.stub.conversation import (
    Generation,
    OutputFormat,
    Prompt,
    Tool,
    ToolCall,
    Turn,
    billed_tokens,
    prompt_tokens,
    stable_id,
)
from grader.stub.errors import invalid, missing, wrong_type
from grader.stub.logprobs import chat_logprobs, token_logprobs
from grader.stub.validation import (
    chat_text,
    check_messages,
    check_model,
    check_number,
    check_sampling,
    check_strict,
    invalid_value,
    make_tool,
    tool_choice,
)

CREATED = 1_735_689_600
"""A fixed ``created`` time (2025-01-01): part of what makes the same request get the same bytes."""
FINGERPRINT = "fp_stub"


def parse_request(body: dict[str, Any]) -> tuple[Prompt, str]:
    """Validate a chat request as the real API does and return the prompt and the model snapshot."""
    params.check_known("/v1/chat/completions", body)
    info = check_model(body, "chat", "v1/chat/completions")
    params.reject_unmodelled("/v1/chat/completions", body)
    messages = body.get("messages")
    check_messages(messages)
    assert isinstance(messages, list)
    check_sampling(body, ("max_tokens", "max_completion_tokens"))
    check_number(body, "n", 1, 128, integer=True)
    check_number(body, "top_logprobs", 0, 20, integer=True)
    effort = reasoning.check_chat(body, info.id)
    if body.get("stream_options") is not None and not body.get("stream"):
        raise invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.", param="stream_options"
        )
    tools = _tools(body.get("tools"))
    choice = body.get("tool_choice")
    forced = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    names_by_call = {
        call["id"]: call["function"]["name"]
        for m in messages
        if m["role"] == "assistant"
        for call in m.get("tool_calls") or []
    }
    turns = tuple(
        Turn(
            role=m["role"],
            text=chat_text(m),
            tool_calls=tuple(
                ToolCall(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in m.get("tool_calls") or []
            ),
            tool_call_id=m.get("tool_call_id"),
            name=names_by_call.get(m.get("tool_call_id", "")),
        )
        for m in messages
    )
    prompt = Prompt(
        model=info.id,
        turns=turns,
        tools=tools,
        tool_choice=tool_choice(choice, forced, tools),
        output=_output_format(body.get("response_format"), turns),
        max_tokens=body.get("max_completion_tokens", body.get("max_tokens")),
        parallel_tool_calls=body.get("parallel_tool_calls", True) is not False,
        stop=_stop_sequences(body.get("stop")),
        reasoning_effort=effort,
    )
    return prompt, info.snapshot or info.id


def _stop_sequences(stop: Any) -> tuple[str, ...]:
    """``stop``: one string or up to four."""
    if stop is None:
        return ()
    if isinstance(stop, str):
        return (stop,)
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise wrong_type("stop", "one of a string or array of strings", stop)
    if len(stop) > 4:
        raise invalid(
            "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with "
            f"length {len(stop)} instead.",
            param="stop",
            code="array_above_max_length",
        )
    return tuple(stop)


def logprobs_top(body: dict[str, Any]) -> int | None:
    """How many alternatives each token's logprobs list, or None when ``logprobs`` is off."""
    return int(body.get("top_logprobs") or 0) if body.get("logprobs") else None


def _tools(tools: Any) -> tuple[Tool, ...]:
    if tools is None:
        return ()
    if not isinstance(tools, list):
        raise wrong_type("tools", "an array", tools)
    parsed = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise wrong_type(f"tools[{i}]", "an object", tool)
        if tool.get("type") != "function":
            raise invalid_value(tool.get("type"), ("function", "custom"), f"tools[{i}].type")
        if not isinstance(tool.get("function"), dict):
            raise missing(f"tools[{i}].function")
        parsed.append(make_tool(tool["function"], f"tools[{i}].function"))
    return tuple(parsed)


def _output_format(response_format: Any, turns: tuple[Turn, ...]) -> OutputFormat:
    if response_format is None:
        return OutputFormat()
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "text":
        return OutputFormat()
    if kind == "json_object":
        if not any(re.search("json", t.text, re.IGNORECASE) for t in turns):
            raise invalid(
                "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
                param="messages",
            )
        return OutputFormat(kind="json_object")
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict):
            raise missing("response_format.json_schema")
        return json_schema_format(spec, "response_format.json_schema", "response_format")
    raise invalid_value(kind, ("json_object", "json_schema", "text"), "response_format.type")


def json_schema_format(spec: dict, where: str, strict_param: str) -> OutputFormat:
    """A ``json_schema`` output format (shared with the Responses API's ``text.format``)."""
    name = spec.get("name")
    if not name:
        raise missing(f"{where}.name")
    schema = spec.get("schema")
    strict = bool(spec.get("strict"))
    if strict:
        check_strict(schema, f"response_format '{name}'", strict_param, None)
    return OutputFormat(kind="json_schema", name=str(name), schema=schema, strict=strict)


def usage(prompt: Prompt, generations: list[Generation]) -> dict:
    prompt_count = prompt_tokens(prompt)
    completion_count = sum(billed_tokens(g) for g in generations)
    return {
        "prompt_tokens": prompt_count,
        "completion_tokens": completion_count,
        "total_tokens": prompt_count + completion_count,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": sum(g.reasoning_tokens for g in generations),
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _envelope(completion_id: str, model: str, obj: str) -> dict:
    return {
        "id": completion_id,
        "object": obj,
        "created": CREATED,
        "model": model,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }


def _message(generation: Generation) -> dict:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": generation.content,
        "refusal": generation.refusal,
        "annotations": [],
    }
    if generation.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in generation.tool_calls
        ]
    return message


def completion(
    completion_id: str, model: str, prompt: Prompt, generations: list[Generation], top_logprobs: int | None = None
) -> dict:
    """A ``chat.completion`` object, one choice per generation (``logprobs`` when asked for)."""
    choices = [
        {
            "index": i,
            "message": _message(g),
            "logprobs": None if top_logprobs is None else chat_logprobs(pieces(g.content or ""), top_logprobs),
            "finish_reason": g.finish_reason,
        }
        for i, g in enumerate(generations)
    ]
    return {
        **_envelope(completion_id, model, "chat.completion"),
        "choices": choices,
        "usage": usage(prompt, generations),
    }


def pieces(text: str, size: int = 0) -> list[str]:
    """Split text the way tokens stream: word by word (or fixed ``size`` slices for JSON arguments)."""
    if size:
        return [text[i : i + size] for i in range(0, len(text), size)]
    return re.findall(r"\s*\S+", text) + ([text[len(text.rstrip()) :]] if text != text.rstrip() else [])


def chunks(
    completion_id: str,
    model: str,
    prompt: Prompt,
    generations: list[Generation],
    include_usage: bool,
    top_logprobs: int | None = None,
) -> Iterator[tuple[None, dict]]:
    """``chat.completion.chunk`` events for a streamed answer, with a final usage chunk if asked."""
    base = _envelope(completion_id, model, "chat.completion.chunk")
    if include_usage:
        base["usage"] = None

    def chunk(index: int, delta: dict, finish: str | None = None, logprobs: dict | None = None) -> tuple[None, dict]:
        return None, {
            **base,
            "choices": [{"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}],
        }

    for index, generation in enumerate(generations):
        yield chunk(index, {"role": "assistant", "content": "", "refusal": None})
        for piece in pieces(generation.refusal or ""):
            yield chunk(index, {"refusal": piece})
        for position, piece in enumerate(pieces(generation.content or "")):
            logprobs = None
            if top_logprobs is not None:
                logprobs = {"content": token_logprobs([piece], top_logprobs, position), "refusal": None}
            yield chunk(index, {"content": piece}, logprobs=logprobs)
        for k, call in enumerate(generation.tool_calls):
            head = {
                "index": k,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            yield chunk(index, {"tool_calls": [head]})
            for piece in pieces(call.arguments, size=16):
                yield chunk(index, {"tool_calls": [{"index": k, "function": {"arguments": piece}}]})
        yield chunk(index, {}, generation.finish_reason)
    if include_usage:
        yield None, {**base, "choices": [], "usage": usage(prompt, generations)}


def completion_id(body: dict, seed: int) -> str:
    return stable_id("chatcmpl-", body, seed)
