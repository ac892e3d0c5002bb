"""A virtual clock, so that code which backs off and sleeps runs instantly under checks.

``install()`` replaces ``time.sleep``, ``asyncio.sleep`` and the clocks in the ``time``
module with dispatchers. While the clock is *virtual*, a sleep returns at once and moves
the clock forward by its duration; the clocks read real time plus every second slept so
far, so deadlines computed from ``time.monotonic()`` still expire. Because the
dispatchers are installed before learner code runs, ``from time import sleep`` in a
notebook binds them too.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_real_sleep = time.sleep
_real_monotonic = time.monotonic
_real_time = time.time
_real_perf_counter = time.perf_counter
_real_asyncio_sleep = asyncio.sleep


class VirtualClock:
    def __init__(self) -> None:
        self.virtual = False
        self.foreign_threads: frozenset[int] = frozenset()  # sleep for real even while virtual
        self.offset = 0.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def advance(self, seconds: float) -> None:
        seconds = float(seconds)
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        with self._lock:
            self.sleeps.append(seconds)
            self.offset += seconds

    def _is_virtual(self) -> bool:
        return self.virtual and threading.get_ident() not in self.foreign_threads

    def sleep(self, seconds: float) -> None:
        if self._is_virtual():
            self.advance(seconds)
        else:
            _real_sleep(seconds)

    async def async_sleep(self, delay: float, result=None):
        if self._is_virtual():
            self.advance(delay)
            delay = 0
        return await _real_asyncio_sleep(delay, result)

    def monotonic(self) -> float:
        return _real_monotonic() + self.offset

    def time(self) -> float:
        return _real_time() + self.offset

    def perf_counter(self) -> float:
        return _real_perf_counter() + self.offset

    @contextmanager
    def running_virtual(self, spare_existing_threads: bool = False) -> Iterator[list[float]]:
        """Make sleeps virtual for the block; yields the list of sleeps taken inside it.

        With *spare_existing_threads* (inside a Jupyter kernel), threads that were already
        running, such as the kernel's own pollers, keep sleeping for real; the calling
        thread and any thread started inside the block sleep virtually.
        """
        previous = self.virtual, self.foreign_threads
        if spare_existing_threads:
            self.foreign_threads = frozenset(t.ident for t in threading.enumerate()) - {threading.get_ident()}
        self.virtual = True
        start = len(self.sleeps)
        taken: list[float] = []
        try:
            yield taken
        finally:
            taken.extend(self.sleeps[start:])
            self.virtual, self.foreign_threads = previous


CLOCK = VirtualClock()


def install(virtual: bool = False) -> VirtualClock:
    """Route ``time``/``asyncio`` sleeps and clocks through :data:`CLOCK` (idempotent)."""
    time.sleep = CLOCK.sleep
    time.monotonic = CLOCK.monotonic
    time.time = CLOCK.time
    time.perf_counter = CLOCK.perf_counter
    asyncio.sleep = CLOCK.async_sleep
    asyncio.tasks.sleep = CLOCK.async_sleep
    CLOCK.virtual = virtual
    return CLOCK
