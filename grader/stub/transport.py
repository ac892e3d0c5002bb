"""The in-process way in: httpx2 transports the real SDK sends through, no sockets involved.

``openai`` 3.x talks ``httpx2``, so respx-style ``httpx`` mocks never see its traffic; these
transports plug into ``httpx2.Client(transport=...)`` instead. They emulate what a network
would do with the core's instructions: a delay longer than the client's read timeout ends in
``httpx2.ReadTimeout`` (the SDK's ``APITimeoutError``), a dropped connection in
``httpx2.RemoteProtocolError`` (``APIConnectionError``), as with the loopback server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import httpx2

from grader.stub.core import StubLLM
from grader.stub.wire import StubRequest, StubResponse

_POLL = 0.01  # how often an async delay checks whether it was interrupted


def _stub_request(request: httpx2.Request) -> StubRequest:
    target = request.url.raw_path.decode("ascii")
    return StubRequest.build(request.method, target, dict(request.headers), request.content)


def _read_timeout(request: httpx2.Request) -> float | None:
    return (request.extensions.get("timeout") or {}).get("read")


def _timed_out(delay: float, timeout: float | None) -> bool:
    return timeout is not None and delay > timeout


def _dropped(request: httpx2.Request) -> httpx2.RemoteProtocolError:
    return httpx2.RemoteProtocolError("Server disconnected without sending a response.", request=request)


def _read_timeout_error(request: httpx2.Request) -> httpx2.ReadTimeout:
    return httpx2.ReadTimeout("The read operation timed out (stub delay).", request=request)


class StubTransport(httpx2.BaseTransport):
    """Synchronous in-process transport; thread-safe, delays block only the calling thread."""

    def __init__(self, stub: StubLLM) -> None:
        self.stub = stub

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        with self.stub.track_in_flight(request.url.path):
            response = self.stub.handle(_stub_request(request))
            self.stub.park()
            if response.delay:
                timeout = _read_timeout(request)
                self.stub.wait(min(response.delay, timeout) if timeout is not None else response.delay)
                if _timed_out(response.delay, timeout):
                    raise _read_timeout_error(request)
        if response.drop_connection:
            raise _dropped(request)
        return _to_httpx(response, request, response.stream)


class AsyncStubTransport(httpx2.AsyncBaseTransport):
    """Asynchronous in-process transport: delays ``await`` so other tasks keep running."""

    def __init__(self, stub: StubLLM) -> None:
        self.stub = stub

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        with self.stub.track_in_flight(request.url.path):
            response = self.stub.handle(_stub_request(request))
            if self.stub.holding:
                await asyncio.to_thread(self.stub.park)
            if response.delay:
                timeout = _read_timeout(request)
                await self._wait(min(response.delay, timeout) if timeout is not None else response.delay)
                if _timed_out(response.delay, timeout):
                    raise _read_timeout_error(request)
        if response.drop_connection:
            raise _dropped(request)
        return _to_httpx(response, request, _aiter(response.stream) if response.stream is not None else None)

    async def _wait(self, seconds: float) -> None:
        event, deadline = self.stub.wake_event, time.monotonic() + seconds
        while not event.is_set() and (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(left, _POLL))


async def _aiter(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def _to_httpx(
    response: StubResponse, request: httpx2.Request, stream: Iterator[bytes] | AsyncIterator[bytes] | None
) -> httpx2.Response:
    return httpx2.Response(
        response.status,
        headers=response.headers,
        content=stream if stream is not None else response.body,
        request=request,
    )
