"""The stub's own request/response values: what the pure core consumes and produces.

Both ways in (the in-process httpx2 transport and the loopback HTTP server) translate to and
from these, so the core never sees sockets, and effects that only a transport can carry out
(waiting, dropping the connection, streaming) travel as plain fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StubRequest:
    """One HTTP request as the core sees it: header names are lower-case, the query is split off."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def build(cls, method: str, target: str, headers: Mapping[str, str], body: bytes = b"") -> StubRequest:
        """Normalise a raw request line target and header mapping (either way in uses this)."""
        return cls(
            method=method.upper(),
            path=target.split("?", 1)[0],
            headers={k.lower(): v for k, v in headers.items()},
            body=body,
        )


NETWORK_SECONDS = "x-grader-network-seconds"
"""Response header of a ``virtual`` delay: how long the reply took, told instead of waited out.
The SDK clients a check builds move their caller's virtual clock by it."""


def read_timeout(headers: Mapping[str, str]) -> float:
    """The client's read timeout, as the SDK announces it (``inf`` when it does not)."""
    try:
        return float(headers.get("x-stainless-read-timeout") or "inf")
    except ValueError:
        return float("inf")


@dataclass
class StubResponse:
    """What the core answers. ``delay`` and ``drop_connection`` are carried out by the way in.

    ``stream`` (server-sent events) replaces ``body`` when set; it is produced lazily so a
    streaming answer is sent chunk by chunk.
    """

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stream: Iterator[bytes] | None = None
    delay: float = 0.0
    drop_connection: bool = False


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> StubResponse:
    """A JSON response with the content type the SDK expects."""
    return StubResponse(
        status=status,
        headers={"content-type": "application/json", **(headers or {})},
        body=json.dumps(payload, separators=(",", ":")).encode(),
    )


def sse_response(events: Iterator[tuple[str | None, Any]], *, done_marker: bool) -> StubResponse:
    """A ``text/event-stream`` response of ``(event name or None, JSON payload)`` pairs.

    Chat completions end with ``data: [DONE]``; the Responses API names each event instead.
    """

    def encode() -> Iterator[bytes]:
        for name, payload in events:
            head = f"event: {name}\n".encode() if name else b""
            yield head + b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"
        if done_marker:
            yield b"data: [DONE]\n\n"

    return StubResponse(
        status=200,
        headers={"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"},
        stream=encode(),
    )
