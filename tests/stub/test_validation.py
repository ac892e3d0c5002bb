"""Requests the real API rejects are rejected the same way: status, SDK exception, message, param."""

from __future__ import annotations

import copy

import httpx2
import openai
import pytest

from grader.stub import StubLLM
from tests.stub.conftest import WEATHER_TOOL, user

MODEL = "gpt-4o-mini"


def _error(excinfo: pytest.ExceptionInfo) -> dict:
    return excinfo.value.body  # the SDK keeps the "error" object of the body


def test_missing_and_wrong_api_key(make_client, stub: StubLLM) -> None:
    stub.api_key = "sk-right-key-1234"
    with pytest.raises(openai.AuthenticationError) as excinfo:
        make_client(api_key="sk-wrong-key-9876", max_retries=0).models.list()
    assert excinfo.value.code == "invalid_api_key"
    assert "9876" in excinfo.value.message and "wrong" not in excinfo.value.message  # masked, as the real one
    assert make_client(api_key="sk-right-key-1234").models.list().data


def test_no_authorization_header_is_401(stub: StubLLM) -> None:
    with httpx2.Client(transport=stub.transport(), base_url="http://stub.local") as http:
        response = http.post("/v1/chat/completions", json={"model": MODEL, "messages": user("hi")})
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert "didn't provide an API key" in response.json()["error"]["message"]
    assert stub.requests[-1].status == 401


def test_api_key_never_recorded(client: openai.OpenAI, stub: StubLLM) -> None:
    client.models.list()
    assert stub.requests[-1].headers["authorization"] == "Bearer [redacted]"
    assert "sk-" not in str(stub.requests[-1].to_dict())


@pytest.mark.parametrize(
    ("kwargs", "status", "message", "param"),
    [
        ({"messages": user("hi")}, 400, "you must provide a model parameter", None),
        ({"model": MODEL}, 400, "Missing required parameter: 'messages'.", "messages"),
        ({"model": MODEL, "messages": []}, 400, "Invalid 'messages': empty array.", "messages"),
        ({"model": "gpt-9-ultra", "messages": user("hi")}, 404, "The model `gpt-9-ultra` does not exist", None),
        ({"model": "text-embedding-3-small", "messages": user("hi")}, 404, "not a chat model", "model"),
        ({"model": MODEL, "messages": [{"role": "robot", "content": "x"}]}, 400, "Invalid value: 'robot'", None),
        ({"model": MODEL, "messages": user("hi"), "temperature": 3}, 400, "decimal above maximum value", None),
        ({"model": MODEL, "messages": user("hi"), "max_tokens": 0}, 400, "integer below minimum value", None),
        (
            {"model": MODEL, "messages": user("hi"), "response_format": {"type": "json_object"}},
            400,
            "'messages' must contain the word 'json'",
            "messages",
        ),
        ({"model": MODEL, "messages": user("hi"), "tool_choice": "auto"}, 400, "only allowed when 'tools'", None),
    ],
)
def test_request_shape_errors(client: openai.OpenAI, kwargs: dict, status: int, message: str, param) -> None:
    with pytest.raises(openai.APIStatusError) as excinfo:  # posted raw: the SDK itself insists on some fields
        client.post("/chat/completions", body=kwargs, cast_to=dict)
    assert excinfo.value.status_code == status
    assert message in excinfo.value.message
    if param is not None:
        assert _error(excinfo)["param"] == param


def _tool_turn(call_ids: list[str]) -> dict:
    calls = [{"id": i, "type": "function", "function": {"name": "get_weather", "arguments": "{}"}} for i in call_ids]
    return {"role": "assistant", "content": None, "tool_calls": calls}


def test_mismatched_tool_call_id_names_the_field(client: openai.OpenAI) -> None:
    messages = [*user("weather?"), _tool_turn(["call_a"]), {"role": "tool", "tool_call_id": "call_b", "content": "x"}]
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert _error(excinfo)["param"] == "messages.[2].tool_call_id"
    assert "'tool_call_id' of 'call_b' not found in 'tool_calls' of previous message" in excinfo.value.message


def test_tool_message_without_preceding_tool_calls(client: openai.OpenAI) -> None:
    messages = [*user("hi"), {"role": "assistant", "content": "hello"}, *user("and?")]
    messages.append({"role": "tool", "tool_call_id": "call_a", "content": "x"})
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.chat.completions.create(model=MODEL, messages=messages)
    assert excinfo.value.message.endswith(
        "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."
    )
    assert _error(excinfo)["param"] == "messages.[3].role"


def test_unanswered_tool_calls_listed(client: openai.OpenAI) -> None:
    messages = [*user("weather?"), _tool_turn(["call_a", "call_b"])]
    messages += [{"role": "tool", "tool_call_id": "call_a", "content": "x"}, *user("well?")]
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert "The following tool_call_ids did not have response messages: call_b" in excinfo.value.message
    assert _error(excinfo)["param"] == "messages.[3].role"


def test_answered_parallel_calls_are_accepted(client: openai.OpenAI) -> None:
    messages = [*user("weather?"), _tool_turn(["call_a", "call_b"])]
    messages += [{"role": "tool", "tool_call_id": i, "content": "x"} for i in ("call_b", "call_a")]
    reply = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert reply.choices[0].message.content


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda p: p.pop("additionalProperties"), "'additionalProperties' is required to be supplied and to be false"),
        (lambda p: p["required"].remove("unit"), "Missing 'unit'"),
    ],
)
def test_strict_tool_schema_rules(client: openai.OpenAI, change, expected: str) -> None:
    tool = copy.deepcopy(WEATHER_TOOL)
    change(tool["function"]["parameters"])
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.chat.completions.create(model=MODEL, messages=user("weather?"), tools=[tool])
    assert expected in excinfo.value.message
    assert "Invalid schema for function 'get_weather': In context=()" in excinfo.value.message
    assert _error(excinfo)["param"] == "tools[0].function.parameters"


def test_strict_response_format_nested_object(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"person": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}},
        "required": ["person"],
        "additionalProperties": False,
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "card", "schema": schema, "strict": True}}
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.chat.completions.create(model=MODEL, messages=user("x"), response_format=response_format)
    assert "Invalid schema for response_format 'card': In context=('properties', 'person')" in excinfo.value.message
    schema["properties"]["person"]["additionalProperties"] = False
    assert client.chat.completions.create(model=MODEL, messages=user("x"), response_format=response_format)


def test_unknown_url_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as excinfo:
        client.get("/nothing/here", cast_to=dict)
    assert "Invalid URL (GET /v1/nothing/here)" in excinfo.value.message
