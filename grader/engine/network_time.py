"""Scaled network time, so a check can test a client timeout of a minute in about a second.

Inside ``scaled(factor)`` every socket timeout set in this process is divided by *factor*:
a client built with ``timeout=20`` gives up after 0.4 s of real time at factor 50, one
with the SDK's default 600 s after 12 s. A check holds the stub's reply for a known real
time and learns, by behaviour, whether the learner's client abandons a reply slower than
its timeout (a header claiming a timeout proves nothing).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

_real_settimeout = socket.socket.settimeout


@contextmanager
def scaled(factor: float | None) -> Iterator[None]:
    if not factor:
        yield
        return

    def settimeout(self: socket.socket, value: float | None) -> None:
        _real_settimeout(self, None if value is None else value / factor)

    socket.socket.settimeout = settimeout
    try:
        yield
    finally:
        socket.socket.settimeout = _real_settimeout
