"""The learner's side of a grading-side call (see ``stub_calls``).

A ``{"$callback": id, "kind": ..., ...}`` marker in a check's arguments becomes a
:class:`GraderCall`. Calling it sends ``{"callback": id, ...}`` to the grader and waits for
the result of the grader's one request; the raw exchange is then passed through the real
SDK (over a transport that only replays it), so learner code gets a genuine
``ChatCompletion``, or a genuine ``openai.RateLimitError`` with the server's headers.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Any

Ask = Callable[[dict], dict]
REPLAY_URL = "http://stub.grader/v1"


class GraderCall:
    """A zero-argument callable whose every call is one request made by the grader."""

    def __init__(self, ask: Ask, marker: dict):
        if marker.get("kind") != "chat_call":
            raise ValueError(f"unknown grading-side call {marker.get('kind')!r}")
        self._ask, self._id, self._request = ask, marker["$callback"], marker["request"]

    def __call__(self) -> Any:
        exchange = self._ask({"callback": self._id, "args": [], "kwargs": {"$dict": []}})["value"]
        return _replay(self._request, exchange)

    def __repr__(self) -> str:
        return f"<chat completion call to {self._request.get('model', '?')}>"


_EXCHANGE: contextvars.ContextVar[dict] = contextvars.ContextVar("grader_replayed_exchange")


def _replay(request: dict, exchange: dict) -> Any:
    from grader.engine.clock import CLOCK

    CLOCK.pass_time(exchange.get("network_seconds", 0))  # the grader did not wait it out: the caller's clock moves
    token = _EXCHANGE.set(exchange)
    try:
        return _replayed(_replay_client(), request)
    finally:
        _EXCHANGE.reset(token)


def _replayed(client: Any, request: dict) -> Any:
    """The SDK's result for the exchange: a ``ChatCompletion`` built, or an error raised, by the
    same code that handles a real reply (``client.post``, the SDK's documented way to call an
    endpoint with a raw body).

    The request itself is not rebuilt: the replay sends nothing, and converting the arguments
    into a request body was most of a replay's cost (0.65-0.75 ms per replay against 0.85-1.4 ms
    through ``create``, medians of 20 interleaved rounds of 100). Only a call ``create`` refuses
    before sending anything (no ``model`` or ``messages``: a ``TypeError``) still goes through it.
    """
    from grader.engine.stub_calls import REQUIRED

    if not REQUIRED.issubset(request):
        return client.chat.completions.create(**request)
    from openai.types.chat import ChatCompletion

    return client.post("/chat/completions", body=None, cast_to=ChatCompletion)


@functools.cache
def _replay_client() -> Any:
    """One SDK client for every replay (building one costs milliseconds: a check makes hundreds
    of calls); its transport answers each request with the exchange of the call being replayed."""
    import httpx2
    import openai

    class Replay(httpx2.BaseTransport):
        def handle_request(self, sent: httpx2.Request) -> httpx2.Response:
            exchange = _EXCHANGE.get()
            error = exchange.get("transport_error")
            if error == "timeout":
                raise httpx2.ReadTimeout("The read operation timed out.", request=sent)
            if error is not None:
                raise httpx2.RemoteProtocolError("Server disconnected without sending a response.", request=sent)
            return httpx2.Response(exchange["status"], headers=exchange["headers"],
                                   content=exchange["body"].encode(), request=sent)

    return openai.OpenAI(api_key="replayed", base_url=REPLAY_URL, max_retries=0,
                         http_client=httpx2.Client(transport=Replay()))
