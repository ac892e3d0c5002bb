"""Stub responses against the installed SDK's own pydantic types and the official OpenAPI schemas.

A corpus of raw bodies (every endpoint, streaming events, error bodies) is produced through the
pure core, then parsed strictly: no validation errors, and no field the SDK does not know.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

import pydantic
import pytest
from openai.types import CreateEmbeddingResponse, Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from openai.types.shared import ErrorObject

from grader.stub import StubLLM, StubRequest
from tests.stub.conftest import WEATHER_TOOL, user

OPENAPI = Path(__file__).resolve().parents[2] / "datasets" / "openai-openapi" / "openapi.json.gz"
AUTH = {"authorization": "Bearer sk-test", "content-type": "application/json"}
SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "a",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"x": {"type": "integer"}},
            "required": ["x"],
            "additionalProperties": False,
        },
    },
}
CHAT = [
    {"messages": user("hello")},
    {"messages": user("weather in Oslo?"), "tools": [WEATHER_TOOL], "n": 2},
    {"messages": user("json please"), "response_format": SCHEMA_FORMAT, "max_completion_tokens": 3},
    {"messages": user("hello"), "n": 2, "logprobs": True, "top_logprobs": 3, "stop": ["reply"]},
    {"model": "o4-mini", "messages": user("think"), "max_completion_tokens": 500},
    {"model": "gpt-5-mini", "messages": user("think"), "max_completion_tokens": 100},
]
RESPONSES = [
    {"input": "hello", "instructions": "be brief"},
    {"input": "lookup order 7", "tools": [{"type": "function", **WEATHER_TOOL["function"], "name": "lookup_order"}]},
    {"input": "hi", "max_output_tokens": 2, "text": {"format": {"type": "json_object"}}},
    {"input": "hello", "include": ["message.output_text.logprobs"], "top_logprobs": 2},
    {"model": "o4-mini", "input": "think", "include": ["reasoning.encrypted_content"], "reasoning": {"effort": "low"}},
    {"model": "gpt-5-mini", "input": "think", "max_output_tokens": 50},
]


def _exchange(stub: StubLLM, method: str, path: str, body: dict | None = None) -> tuple[int, list[Any]]:
    """Status and decoded payloads (one, or one per server-sent event) via the pure core."""
    raw = json.dumps(body).encode() if body is not None else b""
    response = stub.handle(StubRequest.build(method, path, AUTH, raw))
    if response.stream is None:
        return response.status, [json.loads(response.body)]
    text = b"".join(response.stream).decode()
    lines = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]" if path.endswith("chat/completions") else lines[-1] != "[DONE]"
    return response.status, [json.loads(line) for line in lines if line != "[DONE]"]


def corpus() -> list[tuple[str, Any]]:
    """``(kind, payload)`` pairs covering every response shape the stub produces."""
    stub = StubLLM()
    items: list[tuple[str, Any]] = []
    for extra in CHAT:
        body = {"model": "gpt-4o-mini", **extra}
        items += [("chat", p) for p in _exchange(stub, "POST", "/v1/chat/completions", body)[1]]
        stream = {**body, "stream": True, "stream_options": {"include_usage": True}}
        items += [("chunk", p) for p in _exchange(stub, "POST", "/v1/chat/completions", stream)[1]]
    stub.queue_fault("refusal")
    items += [("chat", p) for p in _exchange(stub, "POST", "/v1/chat/completions", {"model": "gpt-4o", **CHAT[0]})[1]]
    stub.queue_fault("refusal")
    refusal_stream = {"model": "gpt-4o", **CHAT[0], "stream": True}
    items += [("chunk", p) for p in _exchange(stub, "POST", "/v1/chat/completions", refusal_stream)[1]]
    for extra in RESPONSES:
        body = {"model": "gpt-4.1-mini", **extra}
        items += [("response", p) for p in _exchange(stub, "POST", "/v1/responses", body)[1]]
        items += [("event", p) for p in _exchange(stub, "POST", "/v1/responses", {**body, "stream": True})[1]]
    stub.queue_fault("refusal")
    items += [
        ("event", p)
        for p in _exchange(stub, "POST", "/v1/responses", {"model": "o4-mini", "input": "x", "stream": True})[1]
    ]
    embed = {"model": "text-embedding-3-small", "input": ["a", "b"], "encoding_format": "float", "dimensions": 8}
    items += [("embeddings", p) for p in _exchange(stub, "POST", "/v1/embeddings", embed)[1]]
    items += [("models", p) for p in _exchange(stub, "GET", "/v1/models")[1]]
    items += [("model", p) for p in _exchange(stub, "GET", "/v1/models/gpt-4o-mini")[1]]
    stub.queue_fault("rate_limit", retry_after_ms=5)
    for method, path, body in [
        ("POST", "/v1/chat/completions", {"model": "gpt-4o-mini", "messages": []}),
        ("POST", "/v1/chat/completions", {"model": "gpt-4o-mini", "messages": []}),
        ("GET", "/v1/models/nope", None),
    ]:
        items += [("error", p) for p in _exchange(stub, method, path, body)[1]]
    return items


CORPUS = corpus()
SDK_TYPES: dict[str, Any] = {
    "chat": ChatCompletion,
    "chunk": ChatCompletionChunk,
    "response": Response,
    "event": pydantic.TypeAdapter(ResponseStreamEvent),
    "embeddings": CreateEmbeddingResponse,
    "model": Model,
    "error": ErrorObject,
}


SPEC_ONLY_FIELDS = {".name"}
"""Sent as the spec requires, though the SDK's type omits it (on response.function_call_arguments.done)."""


def _unknown_fields(value: Any, where: str = "") -> list[str]:
    """Paths of fields the SDK type did not declare (kept as pydantic 'extra')."""
    if isinstance(value, pydantic.BaseModel):
        found = [f"{where}.{k}" for k in (value.model_extra or {})]
        for name in type(value).model_fields:
            found += _unknown_fields(getattr(value, name), f"{where}.{name}")
        return found
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _unknown_fields(v, f"{where}[{i}]")]
    return []


def test_corpus_covers_every_kind() -> None:
    kinds = {kind for kind, _ in CORPUS}
    assert kinds == set(SDK_TYPES) | {"models"}
    assert {p["type"] for k, p in CORPUS if k == "event"} >= {
        "response.output_text.delta",
        "response.function_call_arguments.delta",
        "response.refusal.delta",
        "response.incomplete",
    }


@pytest.mark.parametrize(("kind", "payload"), CORPUS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CORPUS)])
def test_sdk_types_parse_strictly(kind: str, payload: Any) -> None:
    if kind == "models":
        parsed = [Model.model_validate(m) for m in payload["data"]]
    elif kind == "error":
        parsed = ErrorObject.model_validate(payload["error"])
    elif kind == "event":
        parsed = SDK_TYPES[kind].validate_python(payload)
    else:
        parsed = SDK_TYPES[kind].model_validate(payload)
    allowed = SPEC_ONLY_FIELDS if kind == "event" and payload["type"].endswith("arguments.done") else set()
    assert set(_unknown_fields(parsed)) <= allowed


def _nullable_to_anyof(node: Any) -> Any:
    """The spec still carries some OpenAPI 3.0 ``nullable: true``; 3.1 validators ignore it."""
    if isinstance(node, list):
        return [_nullable_to_anyof(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _nullable_to_anyof(v) for k, v in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


@cache
def _components() -> dict:
    return _nullable_to_anyof(json.loads(gzip.decompress(OPENAPI.read_bytes()))["components"])


@cache
def _validator(name: str) -> Any:
    from openapi_schema_validator import OAS31Validator

    return OAS31Validator({"$ref": f"#/components/schemas/{name}", "components": _components()})


OPENAPI_NAMES = {
    "chat": "CreateChatCompletionResponse",
    "chunk": "CreateChatCompletionStreamResponse",
    "response": "Response",
    "event": "ResponseStreamEvent",
    "embeddings": "CreateEmbeddingResponse",
    "models": "ListModelsResponse",
    "model": "Model",
    "error": "ErrorResponse",
}


@pytest.mark.parametrize(("kind", "payload"), CORPUS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CORPUS)])
def test_official_openapi_schemas(kind: str, payload: Any) -> None:
    errors = sorted(_validator(OPENAPI_NAMES[kind]).iter_errors(payload), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message[:200]}" for e in errors[:3]]
