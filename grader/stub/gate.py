"""Hold the stub's replies until the client can do nothing more without one.

``with stub.holding_replies(settled):`` parks every API reply at a gate. A conductor thread
releases the parked replies once every request being served is parked and ``settled()``
says the client is blocked waiting for them (see ``grader.engine.quiescence``): all of them
together (``order="together"``: the most requests a client will have in flight is then
exactly what it allows itself), or all but the oldest, which goes only when it is the last
one parked (``order="oldest_last"``: one of the first requests gets the last answer, every time).

Nothing here waits a fixed time, so a check is as fast as the client and the same on a
loaded machine. A client that never settles (it spins) is released after ``max_hold``
seconds, so a gate can slow a check but never hang it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

ORDERS = ("together", "oldest_last")
_POLL = 0.001


class ReplyGate:
    def __init__(self, settled: Callable[[], bool], in_flight: Callable[[], int], order: str = "together",
                 max_hold: float = 5.0):
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, not {order!r}")
        self._settled, self._in_flight, self.order, self.max_hold = settled, in_flight, order, max_hold
        self._parked: list[threading.Event] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self.releases = 0  # how many times replies were let go: a check can tell the gate was used

    def park(self) -> None:
        """Called by the thread serving a request: wait here until the conductor lets it go."""
        released = threading.Event()
        with self._lock:
            if self._stopped.is_set():
                return
            self._parked.append(released)
        released.wait()

    def conduct(self) -> None:
        """The conductor's loop, until :meth:`stop`; if it fails, every reply goes at once."""
        try:
            self._conduct()
        finally:
            self.stop()

    def _conduct(self) -> None:
        since = time.monotonic()
        while not self._stopped.wait(_POLL):
            with self._lock:
                parked = len(self._parked)
            if not parked:
                since = time.monotonic()
                continue
            overdue = time.monotonic() - since > self.max_hold
            if overdue or (parked == self._in_flight() and self._settled()):
                self._release(keep_oldest=self.order == "oldest_last")  # overdue or not: the order holds
                since = time.monotonic()

    def _release(self, keep_oldest: bool) -> None:
        with self._lock:
            kept = self._parked[:1] if keep_oldest and len(self._parked) > 1 else []
            chosen, self._parked = self._parked[len(kept):], kept
        for event in chosen:
            event.set()
        self.releases += 1

    def stop(self) -> None:
        """Let every parked reply go and park no more."""
        with self._lock:
            self._stopped.set()
            parked, self._parked = self._parked, []
        for event in parked:
            event.set()


@contextmanager
def running(gate: ReplyGate) -> Iterator[ReplyGate]:
    conductor = threading.Thread(target=gate.conduct, name="stub-reply-gate", daemon=True)
    conductor.start()
    try:
        yield gate
    finally:
        gate.stop()
        conductor.join()
