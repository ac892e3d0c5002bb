"""A grading-side call's exchange, replayed on the learner's side, is the SDK's own result:
what learner code would have got from the same reply over the network."""

import json

import openai
import pytest

from grader.engine import callbacks
from grader.engine.callbacks import GraderCall

REQUEST = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20}
COMPLETION = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
              "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                           "message": {"role": "assistant", "content": "hello", "refusal": None}}],
              "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}


def replay(exchange: dict, request: dict = REQUEST):
    asked = []

    def ask(message: dict) -> dict:
        asked.append(message)
        return {"value": exchange}

    result = GraderCall(ask, {"$callback": 7, "kind": "chat_call", "request": request})()
    assert [m["callback"] for m in asked] == [7], "one call is one question to the grader"
    return result


def through_create(exchange: dict):
    """What the SDK's ``create`` makes of the same exchange, the replay's yardstick."""
    token = callbacks._EXCHANGE.set(exchange)
    try:
        return callbacks._replay_client().chat.completions.create(**REQUEST)
    finally:
        callbacks._EXCHANGE.reset(token)


def reply(status: int, body: dict, **headers: str) -> dict:
    text = json.dumps(body)
    return {"status": status, "body": text, "network_seconds": 0.0,
            "headers": [["content-type", "application/json"], ["content-length", str(len(text))],
                        *([k.replace("_", "-"), v] for k, v in headers.items())]}


def test_a_reply_becomes_the_sdks_chat_completion_with_its_request_id():
    exchange = reply(200, COMPLETION, x_request_id="req_abc")
    completion = replay(exchange)
    assert type(completion) is openai.types.chat.ChatCompletion
    assert completion.choices[0].message.content == "hello" and completion.usage.total_tokens == 4
    assert completion._request_id == "req_abc"
    assert completion.model_dump() == through_create(exchange).model_dump()


@pytest.mark.parametrize(("status", "error_type"), [
    (429, openai.RateLimitError), (500, openai.InternalServerError), (400, openai.BadRequestError),
    (401, openai.AuthenticationError)])
def test_an_error_reply_raises_the_sdks_error_with_the_servers_headers(status, error_type):
    body = {"error": {"message": "slow down", "type": "requests", "code": None, "param": None}}
    exchange = reply(status, body, retry_after="2", x_request_id="req_err")
    with pytest.raises(error_type) as raised:
        replay(exchange)
    error = raised.value
    assert (error.status_code, error.request_id, error.response.headers["retry-after"]) == (status, "req_err", "2")
    with pytest.raises(error_type) as created:
        through_create(exchange)
    assert (error.message, error.body, error.code) == (created.value.message, created.value.body, created.value.code)


@pytest.mark.parametrize(("transport_error", "error_type"), [
    ("timeout", openai.APITimeoutError), ("disconnected", openai.APIConnectionError)])
def test_a_network_failure_raises_the_sdks_connection_error(transport_error, error_type):
    exchange = {"transport_error": transport_error, "network_seconds": 0.0}
    with pytest.raises(error_type) as raised:
        replay(exchange)
    with pytest.raises(error_type) as created:
        through_create(exchange)
    assert str(raised.value) == str(created.value)


def test_a_call_the_sdk_refuses_before_sending_raises_its_type_error():
    with pytest.raises(TypeError, match="messages"):
        replay({"transport_error": "not_sent"}, {"model": "gpt-4o-mini"})
