"""The loopback server's HTTP/1.x request head, byte by byte: what any client, not only the SDK, may send."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from grader.stub import StubLLM
from grader.stub.server import StubServer

BODY = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}).encode()


@pytest.fixture
def server() -> Iterator[StubServer]:
    with StubLLM(api_key="sk-test").serve() as server:
        yield server


def _post(head: str, body: bytes = BODY) -> bytes:
    return (f"POST /v1/chat/completions {head}\r\ncontent-length: {len(body)}\r\n\r\n").encode() + body


def _exchange(server: StubServer, data: bytes, replies: int = 1) -> tuple[list[tuple[int, dict, bytes]], bool]:
    """Send *data*, read *replies* responses; also whether the server then closed the connection."""
    with socket.create_connection((server.host, server.port), timeout=5) as conn:
        conn.sendall(data)
        stream = conn.makefile("rb")
        responses = []
        for _ in range(replies):
            status_line = stream.readline().decode()
            status = int(status_line.split()[1])
            headers = {}
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            responses.append((status, headers, stream.read(int(headers.get("content-length", 0)))))
        conn.settimeout(0.5)
        try:
            closed = stream.read(1) == b""
        except TimeoutError:  # still open, waiting for the next request
            closed = False
    return responses, closed


def test_keep_alive_serves_requests_one_after_another_on_one_connection(server: StubServer) -> None:
    head = "HTTP/1.1\r\nhost: x\r\nauthorization: Bearer sk-test"
    responses, closed = _exchange(server, _post(head) + _post(head + "\r\nconnection: close"), replies=2)
    assert [status for status, _, _ in responses] == [200, 200]
    assert json.loads(responses[1][2])["object"] == "chat.completion"
    assert closed  # after the request that asked for it


def test_http_1_0_closes_unless_asked_to_keep_alive(server: StubServer) -> None:
    head = "HTTP/1.0\r\nAuthorization: Bearer sk-test"
    assert _exchange(server, _post(head))[1]
    (reply,), closed = _exchange(server, _post(head + "\r\nConnection: keep-alive"))
    assert reply[0] == 200 and not closed


def test_header_names_are_case_insensitive_and_folded_values_are_joined(server: StubServer) -> None:
    (reply,), _ = _exchange(server, _post("HTTP/1.1\r\nAUTHORIZATION: Bearer\r\n   sk-test\r\nConnection: close"))
    assert reply[0] == 200
    assert server.stub.requests[-1].headers["authorization"] == "Bearer [redacted]"  # one value, key hidden


def test_expect_100_continue_is_answered_before_the_body(server: StubServer) -> None:
    data = _post("HTTP/1.1\r\nauthorization: Bearer sk-test\r\nexpect: 100-continue\r\nconnection: close")
    (interim, final), _ = _exchange(server, data, replies=2)
    assert (interim[0], final[0]) == (100, 200)


@pytest.mark.parametrize(("data", "status"), [
    (_post("HTTP/2.0"), 505),
    (b"POST /v1/chat/completions\r\n\r\n", 400),  # no version: an HTTP/0.9 request line
    (b"hello\r\n\r\n", 400),
    (_post("HTTP/1.1\r\nno colon here"), 400),
    (_post("HTTP/1.1\r\n : empty name"), 400),
    (_post("HTTP/1.1\r\nx-big: " + "a" * 70_000), 431),
    (_post("HTTP/1.1" + "".join(f"\r\nx-{i}: {i}" for i in range(101))), 431),
])
def test_a_malformed_head_is_refused_with_a_status_that_names_the_problem(
        server: StubServer, data: bytes, status: int) -> None:
    (reply,), closed = _exchange(server, data)
    assert reply[0] == status and closed
    assert not server.stub.requests  # refused before it reached the stub
