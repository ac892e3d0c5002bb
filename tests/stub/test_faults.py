"""Faults on demand, observed through the real SDK's own retry, timeout and error behaviour."""

from __future__ import annotations

import contextlib
import json
import time

import openai
import pytest

from grader.stub import StubLLM
from tests.stub.conftest import WEATHER_TOOL, user

MODEL = "gpt-4o-mini"
JSON_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "answer",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"answer": {"type": "string"}, "score": {"type": "integer"}},
            "required": ["answer", "score"],
            "additionalProperties": False,
        },
    },
}


def _ask(client: openai.OpenAI, **kwargs):
    return client.chat.completions.create(model=MODEL, messages=user("Reply in json please"), **kwargs)


def test_rate_limit_retried_by_sdk_and_logged(make_client, stub: StubLLM) -> None:
    stub.queue_fault("rate_limit", count=2, retry_after_ms=5)
    reply = _ask(make_client(max_retries=2))
    assert reply.choices[0].message.content
    log = stub.requests
    assert [(r.status, r.retry_count, r.fault) for r in log] == [
        (429, 0, "rate_limit"),
        (429, 1, "rate_limit"),
        (200, 2, None),
    ]
    assert log[1].arrived_at - log[0].arrived_at >= 0.004  # the SDK honoured retry-after-ms


def test_rate_limit_without_retries_raises(make_client, stub: StubLLM) -> None:
    stub.queue_fault("rate_limit", retry_after=1)
    with pytest.raises(openai.RateLimitError) as excinfo:
        _ask(make_client(max_retries=0))
    assert excinfo.value.code == "rate_limit_exceeded"
    assert excinfo.value.response.headers["retry-after"] == "1"
    assert "Rate limit reached for gpt-4o-mini" in excinfo.value.message
    assert len(stub.requests) == 1


def test_insufficient_quota_code(client: openai.OpenAI, stub: StubLLM) -> None:
    stub.queue_fault("rate_limit", code="insufficient_quota")
    with pytest.raises(openai.RateLimitError) as excinfo:
        _ask(client)
    assert excinfo.value.code == "insufficient_quota"
    assert excinfo.value.type == "insufficient_quota"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors(client: openai.OpenAI, stub: StubLLM, status: int) -> None:
    stub.queue_fault("server_error", status=status)
    with pytest.raises(openai.InternalServerError) as excinfo:
        _ask(client)
    assert excinfo.value.status_code == status
    assert _ask(client).choices  # the fault was used up


@pytest.mark.usefixtures("fast_backoff")
def test_server_error_retried_by_sdk(make_client, stub: StubLLM) -> None:
    stub.queue_fault("server_error", status=503)
    assert _ask(make_client(max_retries=1)).choices
    assert [r.status for r in stub.requests] == [503, 200]


def test_delay_beyond_timeout_raises_timeout_quickly(make_client, stub: StubLLM) -> None:
    stub.queue_fault("timeout")  # default: far longer than any client timeout
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        _ask(make_client(max_retries=0, timeout=0.2))
    assert 0.19 <= time.monotonic() - started < 1.0
    assert stub.requests[-1].read_timeout == 0.2


def test_short_delay_within_timeout_answers(make_client, stub: StubLLM) -> None:
    stub.queue_fault("delay", seconds=0.05)
    started = time.monotonic()
    assert _ask(make_client(max_retries=0, timeout=2)).choices
    assert time.monotonic() - started >= 0.05


@pytest.mark.usefixtures("fast_backoff")
def test_dropped_connection_is_connection_error_then_retried(make_client, stub: StubLLM) -> None:
    stub.queue_fault("drop_connection")
    with pytest.raises(openai.APIConnectionError):
        _ask(make_client(max_retries=0))
    stub.queue_fault("drop_connection")
    assert _ask(make_client(max_retries=1)).choices
    assert [r.status for r in stub.requests] == [None, None, 200]


def test_malformed_json(client: openai.OpenAI, stub: StubLLM) -> None:
    stub.queue_fault("malformed_json")
    content = _ask(client, response_format=JSON_FORMAT).choices[0].message.content or ""
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)


def test_schema_violation_is_valid_json_breaking_the_schema(client: openai.OpenAI, stub: StubLLM) -> None:
    stub.queue_fault("schema_violation")
    content = json.loads(_ask(client, response_format=JSON_FORMAT).choices[0].message.content or "")
    assert isinstance(content, dict) and "answer" not in content
    assert set(json.loads(_ask(client, response_format=JSON_FORMAT).choices[0].message.content or "")) == {
        "answer",
        "score",
    }


def test_truncate_and_refusal(client: openai.OpenAI, stub: StubLLM) -> None:
    full = _ask(client).choices[0]
    stub.queue_fault("truncate")
    cut = _ask(client).choices[0]
    assert cut.finish_reason == "length"
    assert full.message.content and full.message.content.startswith(cut.message.content or "-")
    stub.queue_fault("refusal", message="No.")
    refused = _ask(client).choices[0].message
    assert (refused.refusal, refused.content) == ("No.", None)


def test_tool_call_arguments_faults(client: openai.OpenAI, stub: StubLLM) -> None:
    stub.queue_fault("malformed_json")
    call = (
        client.chat.completions.create(model=MODEL, messages=user("weather in Oslo?"), tools=[WEATHER_TOOL])
        .choices[0]
        .message.tool_calls[0]
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(call.function.arguments)


def test_content_faults_skip_other_endpoints_and_path_filter(client: openai.OpenAI, stub: StubLLM) -> None:
    stub.queue_fault("refusal")
    stub.queue_fault("server_error", path="/v1/chat/completions")
    client.models.list()  # neither applies to the model list
    assert stub.requests[-1].fault is None
    assert _ask(client).choices[0].message.refusal
    with pytest.raises(openai.InternalServerError):
        _ask(client)


def test_fault_rate_is_reproducible_from_seed(client: openai.OpenAI, stub: StubLLM) -> None:
    def run() -> list[int | None]:
        stub.reset()
        stub.set_fault_rate(0.5, kinds=["server_error", {"kind": "rate_limit", "retry_after_ms": 1}], seed=7)
        for _ in range(12):
            with contextlib.suppress(openai.APIStatusError):
                _ask(client)
        return [r.status for r in stub.requests]

    first = run()
    assert first == run()
    assert {200, 429, 500} <= set(first)


def test_bad_fault_specs_fail_loudly(stub: StubLLM) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        stub.queue_fault("meteor")
    with pytest.raises(ValueError, match="takes"):
        stub.queue_fault("rate_limit", seconds=3)
    with pytest.raises(ValueError, match="status"):
        stub.queue_fault("server_error", status=418)


@pytest.mark.anyio
@pytest.mark.usefixtures("fast_backoff")
async def test_async_sdk_sees_the_same_faults(make_async_client, stub: StubLLM) -> None:
    stub.queue_fault("rate_limit", retry_after_ms=5)
    reply = await make_async_client(max_retries=1).chat.completions.create(model=MODEL, messages=user("hi"))
    assert reply.choices and [r.retry_count for r in stub.requests] == [0, 1]
    client = make_async_client(max_retries=0, timeout=0.1)
    stub.queue_fault("timeout")
    with pytest.raises(openai.APITimeoutError):
        await client.chat.completions.create(model=MODEL, messages=user("hi"))
    stub.queue_fault("drop_connection")
    with pytest.raises(openai.APIConnectionError):
        await client.models.list()
    stub.queue_fault("rate_limit", code="insufficient_quota", path="embeddings")
    with pytest.raises(openai.RateLimitError):
        await client.embeddings.create(model="text-embedding-3-small", input="x")
