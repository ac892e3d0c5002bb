"""Fixtures: a fresh stub per test, and real SDK clients through each way in."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx2
import openai
import pytest

from grader.stub import StubLLM

WAYS = ["in-process", "http"]


@pytest.fixture
def stub() -> Iterator[StubLLM]:
    stub = StubLLM()
    yield stub
    stub.interrupt_waits()


@pytest.fixture(scope="session")
def http_client() -> Iterator[httpx2.Client]:
    """One real HTTP client for the session: building one loads CA certificates (~50 ms)."""
    with httpx2.Client() as http:
        yield http


@pytest.fixture(params=WAYS)
def make_client(
    request: pytest.FixtureRequest, stub: StubLLM, http_client: httpx2.Client
) -> Iterator[Callable[..., openai.OpenAI]]:
    """Build ``openai.OpenAI`` clients wired to the stub, in-process or over loopback HTTP."""
    if request.param == "in-process":
        yield stub.client
        return
    with stub.serve() as server:
        defaults = {"base_url": server.base_url, "api_key": "sk-test", "http_client": http_client}
        yield lambda **kw: openai.OpenAI(**{**defaults, **kw})


@pytest.fixture(params=WAYS)
def make_async_client(request: pytest.FixtureRequest, stub: StubLLM) -> Iterator[Callable[..., openai.AsyncOpenAI]]:
    if request.param == "in-process":
        yield stub.async_client
        return
    with stub.serve() as server:
        yield lambda **kw: openai.AsyncOpenAI(**{"base_url": server.base_url, "api_key": "sk-test", **kw})


@pytest.fixture
def client(make_client: Callable[..., openai.OpenAI]) -> openai.OpenAI:
    return make_client(max_retries=0)


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink the SDK's own exponential backoff (0.5 s first) where no retry-after header applies."""
    monkeypatch.setattr("openai._base_client.INITIAL_RETRY_DELAY", 0.01)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
