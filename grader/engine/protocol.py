"""Length-prefixed JSON messages over a socket: the only channel between grader and child.

JSON, never pickle: the grading process must not run code while reading what an
untrusted child sent. Messages are capped so a child cannot exhaust the grader's memory,
and the grader decodes each one against its typed schema (``messages``) as it arrives.
"""

from __future__ import annotations

import json
import os
import select
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

MAX_MESSAGE = 64 * 1024 * 1024
_HEADER = struct.Struct("!I")


class ChannelClosed(Exception):
    """The other side went away (for the grader: the child exited or crashed)."""


class ProtocolViolation(ChannelClosed):
    """The other side sent a message that breaks the protocol: for the grader, learner code
    wrote to the grading socket. Treated like the child going away: it cannot be trusted
    to answer in step any more."""


class ChannelTimeout(Exception):
    """No message arrived in time."""


class Channel:
    def __init__(self, sock: socket.socket):
        self.sock = sock

    def send(self, message: Any) -> None:
        data = json.dumps(message, separators=(",", ":")).encode("utf-8")
        try:
            self.sock.sendall(_HEADER.pack(len(data)) + data)
        except OSError as error:
            raise ChannelClosed(str(error)) from None

    def receive(self, timeout: float | None = None, decode: Callable[[bytes], Any] = json.loads) -> Any:
        """The next message, parsed by *decode* (a ``messages`` schema on the grader's side)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        (length,) = _HEADER.unpack(self._read(_HEADER.size, deadline))
        if length > MAX_MESSAGE:
            raise ProtocolViolation(f"message of {length} bytes exceeds the {MAX_MESSAGE}-byte limit")
        return decode(self._read(length, deadline))

    def _read(self, size: int, deadline: float | None) -> bytes:
        chunks = []
        while size:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([self.sock], [], [], remaining)[0]:
                    raise ChannelTimeout()
            try:
                chunk = self.sock.recv(min(size, 1 << 20))
            except OSError as error:
                raise ChannelClosed(str(error)) from None
            if not chunk:
                raise ChannelClosed("connection closed")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self.sock.close()


def send_with_fd(sock: socket.socket, message: Any, fd: int) -> None:
    """Send one framed message carrying an open file descriptor (SCM_RIGHTS)."""
    data = json.dumps(message, separators=(",", ":")).encode("utf-8")
    socket.send_fds(sock, [_HEADER.pack(len(data)) + data], [fd])


def receive_with_fd(sock: socket.socket, timeout: float) -> tuple[Any, int | None]:
    """Receive one small framed message sent by :func:`send_with_fd`, and its descriptor.

    It is the child's first message, sent before any learner code runs, so it arrives whole.
    """
    if not select.select([sock], [], [], timeout)[0]:
        raise ChannelTimeout()
    data, fds, _, _ = socket.recv_fds(sock, 1 << 16, 1)
    if not data:
        raise ChannelClosed("connection closed")
    (length,) = _HEADER.unpack(data[: _HEADER.size])
    if length != len(data) - _HEADER.size:
        for fd in fds:
            os.close(fd)
        raise ChannelClosed("the child's first message was not one whole frame")
    return json.loads(data[_HEADER.size:]), (fds[0] if fds else None)
