"""The loopback way in: a threaded HTTP/1.1 server in front of the same core.

One thread per connection, so slow (delayed) answers never hold up others; keep-alive so the
SDK's connection pool is exercised as against the real API. Stopping interrupts pending delays
and closes open connections, so a test or grading run never waits for a fault's full delay.
"""

from __future__ import annotations

import contextlib
import os
import select
import selectors
import socket
import socketserver
import struct
import sys
import threading
from collections.abc import Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import IO, TYPE_CHECKING

from grader.stub.errors import unknown_url
from grader.stub.wire import StubRequest, StubResponse

if TYPE_CHECKING:
    from grader.stub.core import StubLLM


def waiting_at(listener: socket.socket, connections: Iterable[socket.socket]) -> bool:
    """Whether a connection waits to be accepted on *listener*, or bytes wait to be read on one of
    the server's *connections* (a request on its way to being counted). Linux, where ``/proc`` is."""
    import fcntl  # Unix only: imported here so that check() still loads elsewhere
    import termios

    poll = select.poll()
    poll.register(listener, select.POLLIN)
    if poll.poll(0):
        return True
    for connection in connections:
        try:
            if struct.unpack("i", fcntl.ioctl(connection, termios.FIONREAD, b"\0" * 4))[0]:
                return True
        except (OSError, ValueError):  # closed meanwhile: nothing left to read
            continue
    return False


_MAX_LINE, _MAX_HEADERS = 65536, 100  # http.client's limits


class _Headers(dict):
    """A request's header fields by lower-case name: all the stub reads of them. (The standard
    library parses them as an e-mail message: a fifth of the server's CPU time per request.)"""

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(name.lower(), default)


class _HeaderError(ValueError):
    """A request head the server refuses: ``status`` and a message for the client."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


def _read_headers(rfile: IO[bytes]) -> _Headers:
    """Read header lines up to the blank line that ends them (folded lines are joined)."""
    headers = _Headers()
    name = ""
    for _ in range(_MAX_HEADERS + 1):
        line = rfile.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise _HeaderError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long")
        if line in (b"\r\n", b"\n", b""):
            return headers
        text = line.decode("iso-8859-1").rstrip("\r\n")
        if text[:1] in (" ", "\t") and name:  # obsolete line folding: the value goes on
            headers[name] += " " + text.strip()
            continue
        name, colon, value = text.partition(":")
        if not colon or not name or name != name.strip():
            raise _HeaderError(HTTPStatus.BAD_REQUEST, f"Bad header line ({text[:100]!r})")
        name = name.lower()
        headers[name] = value.strip()
    raise _HeaderError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave at once; no 40 ms delayed-ACK stalls
    server: _HTTPServer

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the request log is the record, stderr stays clean for learners."""

    def handle_one_request(self) -> None:
        self._flight: contextlib.AbstractContextManager | None = None
        try:
            super().handle_one_request()
        finally:
            if self._flight is not None:
                self._flight.__exit__(None, None, None)

    def parse_request(self) -> bool:
        """Read the request line and headers of an HTTP/1.0 or 1.1 request (refusing anything else
        with a status that names the problem). A request counts as in flight from then on, before its
        body is read: a reply gate (``stub.holding_replies``) must never miss one that is half-read."""
        self.command = None
        self.close_connection = True
        self.request_version = self.protocol_version  # what an error reply is written in
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if len(words) != 3 or words[2] not in ("HTTP/1.0", "HTTP/1.1"):
            unsupported = len(words) == 3 and words[2].startswith("HTTP/")
            self.send_error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED if unsupported else HTTPStatus.BAD_REQUEST,
                            f"Bad request line ({self.requestline[:100]!r})")
            return False
        self.command, self.path, self.request_version = words
        try:
            self.headers = _read_headers(self.rfile)  # type: ignore[assignment]
        except _HeaderError as error:
            self.send_error(error.status, str(error))
            return False
        connection = (self.headers.get("connection") or "").lower()
        self.close_connection = connection == "close" or (self.request_version == "HTTP/1.0"
                                                          and connection != "keep-alive")
        expect = (self.headers.get("expect") or "").lower()
        if expect == "100-continue" and self.request_version == "HTTP/1.1" and not self.handle_expect_100():
            return False
        self._flight = self.server.stub.track_in_flight(self.path)
        self._flight.__enter__()
        return True

    def _serve(self) -> None:
        stub = self.server.stub
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        request = StubRequest.build(self.command, self.path, self.headers, body)
        if not self.server.control and request.path.startswith("/_stub/"):
            # Grading serves learner code: the control API (faults, log, reset) is not for it.
            self._send(unknown_url(request.method, request.path).to_response())
            return
        response = stub.handle(request)
        stub.park()
        if response.delay and stub.wait(response.delay):
            response.drop_connection = True  # stopped mid-delay: hang up rather than answer late
        if response.drop_connection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        with contextlib.suppress(OSError):  # the client may have given up (timeout) already
            self._send(response)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def _send(self, response: StubResponse) -> None:
        head = [f"HTTP/1.1 {response.status} {HTTPStatus(response.status).phrase}"]
        head += [f"{name}: {value}" for name, value in response.headers.items()]
        if response.stream is None:
            head.append(f"content-length: {len(response.body)}")
            self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body)
            return
        head.append("transfer-encoding: chunked")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        for chunk in response.stream:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog is 5: a burst of concurrent clients overflowed it, and
    # the kernel retried the refused connections a second later, serialising the burst.
    request_queue_size = 128

    def __init__(self, stub: StubLLM, address: tuple[str, int], listener: socket.socket | None = None,
                 control: bool = True) -> None:
        self.stub = stub
        self.control = control
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self.thread_ids: set[int] = set()  # the native ids of the threads serving connections
        self._wake, self._waker = socket.socketpair()  # stop() writes to one to end accept()
        super().__init__(address, _Handler, bind_and_activate=listener is None)
        if listener is not None:  # already bound and listening (made inside a grading sandbox)
            self.socket.close()
            self.socket = listener
            self.server_address = listener.getsockname()

    def accept_until_stopped(self) -> None:
        """Accept connections until :meth:`stop`, which ends this at once (``serve_forever`` would
        poll for it: a grading run waited half a poll interval, 5 ms, for every notebook)."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self._wake:
                        return
                    self._handle_request_noblock()

    def stop(self) -> None:
        self._waker.send(b"\0")

    def server_close(self) -> None:
        super().server_close()
        self._wake.close()
        self._waker.close()

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-request (a timeout, a cancelled task) is normal here, not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can take seconds without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self) -> tuple[socket.socket, object]:
        """Accept and register in one step: a connection is always either waiting on the listening
        socket or in ``connections``, never in between, for :meth:`StubServer.waiting`."""
        with self.connections_lock:
            request, address = super().get_request()
            self.connections.add(request)
        return request, address

    def process_request_thread(self, request: socket.socket, client_address: object) -> None:
        with self.connections_lock:
            self.thread_ids.add(threading.get_native_id())
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.connections_lock:
                self.thread_ids.discard(threading.get_native_id())

    def shutdown_request(self, request: socket.socket) -> None:  # every way a connection ends
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


class StubServer:
    """A running loopback server for a :class:`StubLLM`; ``base_url`` is what clients need.

    Listening as soon as it is constructed; ``close()`` (or leaving the ``with`` block) stops it.
    With ``set_env`` the ``OPENAI_BASE_URL``/``OPENAI_API_KEY`` variables point at it until then.
    """

    def __init__(self, stub: StubLLM, host: str = "127.0.0.1", port: int = 0, *, set_env: bool = False,
                 listener: socket.socket | None = None, control: bool = True) -> None:
        """*listener*: serve on this listening socket instead of binding one. *control*: False
        answers the control API (``/_stub/...``) with 404, for servers that learner code reaches."""
        self.stub = stub
        self._httpd = _HTTPServer(stub, (host, port), listener, control)
        self.host, self.port = self._httpd.server_address[:2]
        self._thread = threading.Thread(
            target=self._httpd.accept_until_stopped,
            name="stub-llm-server",
            daemon=True,
        )
        self._thread.start()
        self._saved_env: dict[str, str | None] | None = None
        if set_env:
            self._saved_env = {k: os.environ.get(k) for k in ("OPENAI_BASE_URL", "OPENAI_API_KEY")}
            os.environ["OPENAI_BASE_URL"] = self.base_url
            os.environ["OPENAI_API_KEY"] = stub.api_key or "sk-stub"

    def thread_ids(self) -> set[int]:
        """The native ids of this server's threads: not the client's, when both share a process."""
        with self._httpd.connections_lock:
            return {*self._httpd.thread_ids, self._thread.native_id or 0}

    def waiting(self) -> bool:
        """Whether a connection waits to be accepted or a request's bytes wait to be read."""
        with self._httpd.connections_lock:
            return waiting_at(self._httpd.socket, list(self._httpd.connections))

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in str(self.host) else self.host
        return f"http://{host}:{self.port}/v1"

    def close(self) -> None:
        """Stop serving: end pending delays, stop the accept loop, close open connections."""
        if self._saved_env is not None:
            for key, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            self._saved_env = None
        if not self._thread.is_alive():
            return
        self.stub.interrupt_waits()
        self._httpd.stop()
        self._thread.join()
        self._httpd.close_connections()
        self._httpd.server_close()

    def __enter__(self) -> StubServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
