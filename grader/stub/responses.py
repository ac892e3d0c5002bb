"""``POST /v1/responses`` (the Responses API): input items to a prompt, a generation to output items.

A ``previous_response_id`` continues a stored response: its conversation (see ``stored.py``) is
read before this request's ``input``. A reasoning model's output starts with a ``reasoning`` item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from grader.stub import params, reasoning
from grader.stub.chat import CREATED, json_schema_format, pieces
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
from grader.stub.errors import APIError, invalid, missing, wrong_type
from grader.stub.logprobs import delta_logprobs, token_logprobs
from grader.stub.validation import (
    check_model,
    check_number,
    check_sampling,
    check_tool_name,
    invalid_value,
    make_tool,
    tool_choice,
)

LOGPROBS = "message.output_text.logprobs"
ENCRYPTED_REASONING = "reasoning.encrypted_content"

_ROLES = ("user", "assistant", "system", "developer")


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", p.get("refusal", ""))) for p in content if isinstance(p, dict))
    return ""


def _turns(body: dict, history: list[dict]) -> tuple[Turn, ...]:
    turns: list[Turn] = []
    if body.get("instructions"):
        turns.append(Turn("developer", str(body["instructions"])))
    items = body.get("input")
    if items is None:
        raise missing("input")
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": items}]
    if not isinstance(items, list):
        raise wrong_type("input", "one of a string or array of input items", items)
    items = [*history, *items]
    calls: dict[str, str] = {}  # call_id -> function name, from function_call items seen so far
    answered: set[str] = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise wrong_type(f"input[{i}]", "an object", item)
        kind = item.get("type", "message")
        if kind == "reasoning":  # a reasoning model's earlier thoughts: passed back, not read
            continue
        if kind == "message":
            role = item.get("role")
            if role not in _ROLES:
                raise invalid_value(role, _ROLES, f"input[{i}].role")
            turns.append(Turn(role, _text(item.get("content"))))
        elif kind == "function_call":
            name = check_tool_name(item.get("name"), f"input[{i}].name")
            if not item.get("call_id"):
                raise missing(f"input[{i}].call_id")
            calls[item["call_id"]] = name
            call = ToolCall(item["call_id"], name, str(item.get("arguments", "")))
            if turns and turns[-1].role == "assistant":  # parallel calls form one assistant turn
                turns[-1] = Turn("assistant", turns[-1].text, (*turns[-1].tool_calls, call))
            else:
                turns.append(Turn("assistant", "", (call,)))
        elif kind == "function_call_output":
            call_id = item.get("call_id")
            if call_id not in calls:
                raise invalid(f"No tool call found for function call output with call_id {call_id}.", param="input")
            answered.add(call_id)
            output = item.get("output")
            turns.append(
                Turn("tool", output if isinstance(output, str) else _text(output), (), call_id, calls[call_id])
            )
        else:
            allowed = ("message", "function_call", "function_call_output", "reasoning")
            raise invalid_value(kind, allowed, f"input[{i}].type")
    for call_id in calls:
        if call_id not in answered:
            raise invalid(f"No tool output found for function call {call_id}.", param="input")
    return tuple(turns)


def _tools(tools: Any) -> tuple[Tool, ...]:
    if tools is None:
        return ()
    if not isinstance(tools, list):
        raise wrong_type("tools", "an array", tools)
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") != "function":
            kind = tool.get("type") if isinstance(tool, dict) else tool
            raise invalid_value(kind, ("function",), f"tools[{i}].type")
    return tuple(make_tool(tool, f"tools[{i}]") for i, tool in enumerate(tools))


def _output_format(text: Any) -> OutputFormat:
    spec = text.get("format") if isinstance(text, dict) else None
    kind = spec.get("type") if isinstance(spec, dict) else "text"
    if kind == "text":
        return OutputFormat()
    if kind == "json_object":
        return OutputFormat(kind="json_object")
    if kind == "json_schema":
        return json_schema_format(spec, "text.format", "text.format.schema")
    raise invalid_value(kind, ("text", "json_object", "json_schema"), "text.format.type")


def _no_history(_previous_id: Any) -> list[dict]:
    return []


def parse_request(
    body: dict[str, Any], history: Callable[[Any], list[dict]] = _no_history
) -> tuple[Prompt, str]:
    """Validate a Responses API request and return the prompt and the model snapshot.

    ``history`` maps ``previous_response_id`` to the stored conversation (or raises its 400).
    """
    params.check_known("/v1/responses", body)
    info = check_model(body, "chat", "v1/responses")
    if body.get("conversation") is not None:
        conversation = body["conversation"]
        cid = conversation.get("id") if isinstance(conversation, dict) else conversation
        raise APIError(404, f"Conversation with id '{cid}' not found.", param="conversation")
    params.reject_unmodelled("/v1/responses", body)
    effort = reasoning.check_responses(body, info.id)
    check_sampling(body, ("max_output_tokens",))
    check_number(body, "top_logprobs", 0, 20, integer=True)
    earlier = history(body.get("previous_response_id"))
    tools = _tools(body.get("tools"))
    choice = body.get("tool_choice")
    forced = choice.get("name") if isinstance(choice, dict) else None
    prompt = Prompt(
        model=info.id,
        turns=_turns(body, earlier),
        tools=tools,
        tool_choice=tool_choice(choice, forced, tools),
        output=_output_format(body.get("text")),
        max_tokens=body.get("max_output_tokens"),
        parallel_tool_calls=body.get("parallel_tool_calls", True) is not False,
        reasoning_effort=effort,
    )
    return prompt, info.snapshot or info.id


def response_id(body: dict, seed: int) -> str:
    return stable_id("resp_", body, seed, length=32)


def _reasoning_item(rid: str, include: list) -> dict:
    item: dict[str, Any] = {"id": "rs_" + rid[5:], "type": "reasoning", "summary": []}
    if ENCRYPTED_REASONING in include:
        item["encrypted_content"] = stable_id("gAAAAB", rid, length=64)
    return item


def _output_items(rid: str, body: dict, prompt: Prompt, generation: Generation) -> list[dict]:
    status = "incomplete" if generation.finish_reason == "length" else "completed"
    include = body.get("include") or []
    items: list[dict] = [_reasoning_item(rid, include)] if prompt.reasoning_effort is not None else []
    thought_only = generation.content == "" and generation.reasoning_tokens and generation.finish_reason == "length"
    if (generation.content is not None or generation.refusal is not None) and not thought_only:
        logprobs = []
        if LOGPROBS in include:
            logprobs = token_logprobs(pieces(generation.content or ""), int(body.get("top_logprobs") or 0))
        part = (
            {"type": "refusal", "refusal": generation.refusal}
            if generation.refusal is not None
            else {"type": "output_text", "text": generation.content, "annotations": [], "logprobs": logprobs}
        )
        items.append(
            {
                "id": "msg_" + rid[5:],
                "type": "message",
                "status": status,
                "role": "assistant",
                "content": [part],
            }
        )
    for k, call in enumerate(generation.tool_calls):
        items.append(
            {
                "id": f"fc_{rid[5:]}{k}",
                "type": "function_call",
                "status": status,
                "call_id": call.id,
                "name": call.name,
                "arguments": call.arguments,
            }
        )
    return items


def _format_echo(output: OutputFormat) -> dict:
    if output.kind == "json_schema":
        return {
            "type": "json_schema",
            "name": output.name,
            "schema": output.schema or {},
            "strict": output.strict,
        }
    return {"type": output.kind}


def response(rid: str, model: str, body: dict, prompt: Prompt, generation: Generation | None) -> dict:
    """The ``response`` object; ``generation=None`` gives the in-progress shell streaming starts with."""
    input_tokens = prompt_tokens(prompt)
    output_tokens = billed_tokens(generation) if generation else 0
    truncated = generation is not None and generation.finish_reason == "length"
    status = "in_progress" if generation is None else "incomplete" if truncated else "completed"
    result: dict[str, Any] = {
        "id": rid,
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if truncated else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": model,
        "output": _output_items(rid, body, prompt, generation) if generation else [],
        "parallel_tool_calls": prompt.parallel_tool_calls,
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": prompt.reasoning_effort, "summary": None},
        "service_tier": "default",
        "temperature": float(body.get("temperature", 1.0)),
        "text": {"format": _format_echo(prompt.output)},
        "tool_choice": prompt.tool_choice
        if prompt.tool_choice in ("none", "auto", "required")
        else {
            "type": "function",
            "name": prompt.tool_choice,
        },
        "tools": [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters,
                "strict": t.strict,
            }
            for t in prompt.tools
        ],
        "top_p": float(body.get("top_p", 1.0)),
        "truncation": "disabled",
        "metadata": body.get("metadata") or {},
    }
    if generation is not None:  # the in-progress shell has no usage yet (the spec has no null here)
        result["usage"] = {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": generation.reasoning_tokens},
            "total_tokens": input_tokens + output_tokens,
        }
    return result


def events(rid: str, model: str, body: dict, prompt: Prompt, generation: Generation) -> Iterator[tuple[str, dict]]:
    """The named server-sent events of a streamed response, numbered as the real API numbers them."""
    final = response(rid, model, body, prompt, generation)
    shell = response(rid, model, body, prompt, None)
    sequence = 0

    def event(kind: str, **fields: Any) -> tuple[str, dict]:
        nonlocal sequence
        sequence += 1
        return kind, {"type": kind, "sequence_number": sequence - 1, **fields}

    yield event("response.created", response=shell)
    yield event("response.in_progress", response=shell)
    for index, item in enumerate(final["output"]):
        where = {"item_id": item["id"], "output_index": index}
        if item["type"] == "reasoning":
            yield event("response.output_item.added", output_index=index, item=item)
        elif item["type"] == "function_call":
            yield event(
                "response.output_item.added",
                output_index=index,
                item={**item, "arguments": "", "status": "in_progress"},
            )
            for piece in pieces(item["arguments"], size=16):
                yield event("response.function_call_arguments.delta", **where, delta=piece)
            yield event(
                "response.function_call_arguments.done", **where, name=item["name"], arguments=item["arguments"]
            )
        else:
            part = item["content"][0]
            yield event(
                "response.output_item.added",
                output_index=index,
                item={**item, "content": [], "status": "in_progress"},
            )
            where["content_index"] = 0
            if part["type"] == "refusal":
                yield event("response.content_part.added", **where, part={**part, "refusal": ""})
                for piece in pieces(part["refusal"]):
                    yield event("response.refusal.delta", **where, delta=piece)
                yield event("response.refusal.done", **where, refusal=part["refusal"])
            else:
                yield event("response.content_part.added", **where, part={**part, "text": ""})
                logprobs = delta_logprobs(part["logprobs"])
                for position, piece in enumerate(pieces(part["text"])):
                    yield event(
                        "response.output_text.delta", **where, delta=piece, logprobs=logprobs[position : position + 1]
                    )
                yield event("response.output_text.done", **where, text=part["text"], logprobs=logprobs)
            yield event("response.content_part.done", **where, part=part)
        yield event("response.output_item.done", output_index=index, item=item)
    yield event("response.incomplete" if final["status"] == "incomplete" else "response.completed", response=final)
