"""A virtual clock per thread and task, so code that backs off and sleeps runs instantly.

``install()`` replaces ``time.sleep``, ``asyncio.sleep`` and the clocks in the ``time``
module with dispatchers. Inside a *call* (one check operation, or one cell while a
notebook is graded) a sleep returns at once and moves forward the virtual time of the
thread or asyncio task that slept, and of nobody else: its clocks read real time plus
what it has slept, so deadlines computed from ``time.monotonic()`` still expire, while a
sleep in one task does not make another task's ``wait_for`` fire early. Threads and tasks
started during a call inherit their creator's time (tasks copy the context, threads are
given it by ``Thread.start``). Everything else keeps real time: threads that were already
running (ipykernel's, a learner's background thread), and whatever a call leaves running
after it returns. The asyncio loop's own clock is always real, so the SDK's timeouts mean
what they say. Because the dispatchers are installed before learner code runs,
``from time import sleep`` in a notebook binds them too.
"""

from __future__ import annotations

import asyncio
import asyncio.base_events
import contextvars
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

_real_sleep = time.sleep
_real_monotonic = time.monotonic
_real_time = time.time
_real_perf_counter = time.perf_counter
_real_asyncio_sleep = asyncio.sleep
_real_thread_start = threading.Thread.start


@dataclass
class Call:
    """One stretch of virtual time: the sleeps taken by its thread and everything it started."""

    sleeps: list[float] = field(default_factory=list)
    active: bool = True


_CALL: contextvars.ContextVar[Call | None] = contextvars.ContextVar("grader_clock_call", default=None)
_OFFSET: contextvars.ContextVar[float] = contextvars.ContextVar("grader_clock_offset", default=0.0)


def _virtual_call() -> Call | None:
    call = _CALL.get()
    return call if call is not None and call.active else None


class VirtualClock:
    def advance(self, seconds: float) -> None:
        """Move the current thread's (or task's) time forward, recording the sleep in its call."""
        seconds = float(seconds)
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        call = _virtual_call()
        if call is None:
            raise RuntimeError("advance() outside a call")
        call.sleeps.append(seconds)
        _OFFSET.set(_OFFSET.get() + seconds)

    def pass_time(self, seconds: float) -> None:
        """Move the current thread's (or task's) time forward without a sleep: time spent on the
        network by a grading-side call, which the grader does not wait out in real time."""
        if _virtual_call() is not None and seconds > 0:
            _OFFSET.set(_OFFSET.get() + float(seconds))

    def sleep(self, seconds: float) -> None:
        if _virtual_call() is not None:
            self.advance(seconds)
        else:
            _real_sleep(seconds)

    async def async_sleep(self, delay: float, result=None):
        if _virtual_call() is not None:
            self.advance(delay)
            delay = 0
        return await _real_asyncio_sleep(delay, result)

    def monotonic(self) -> float:
        return _real_monotonic() + _OFFSET.get()

    def time(self) -> float:
        return _real_time() + _OFFSET.get()

    def perf_counter(self) -> float:
        return _real_perf_counter() + _OFFSET.get()

    @contextmanager
    def call(self) -> Iterator[list[float]]:
        """Make the calling thread's sleeps (and those of what it starts) virtual for the block.

        Yields the list of sleeps taken inside it. When the block ends, threads and tasks it
        left running go back to real time, so a forgotten ``while True: sleep(5)`` idles
        instead of spinning, and the calling thread's clocks read real time again (in
        Jupyter, ``time.time()`` stays the wall clock after a check).
        """
        current = Call()
        token, offset_token = _CALL.set(current), _OFFSET.set(_OFFSET.get())
        try:
            yield current.sleeps
        finally:
            current.active = False
            _OFFSET.reset(offset_token)
            _CALL.reset(token)


CLOCK = VirtualClock()


def _start_with_creators_time(thread: threading.Thread) -> None:
    """``Thread.start`` that hands the new thread its creator's call and virtual time."""
    call, offset, run = _CALL.get(), _OFFSET.get(), thread.run

    def run_in_creators_time() -> None:
        _CALL.set(call)
        _OFFSET.set(offset)
        run()

    if call is not None:
        thread.run = run_in_creators_time
    _real_thread_start(thread)


def _real_loop_time(loop: asyncio.AbstractEventLoop) -> float:
    return _real_monotonic()


def install() -> VirtualClock:
    """Route ``time``/``asyncio`` sleeps and clocks through :data:`CLOCK` (idempotent)."""
    time.sleep = CLOCK.sleep
    time.monotonic = CLOCK.monotonic
    time.time = CLOCK.time
    time.perf_counter = CLOCK.perf_counter
    asyncio.sleep = CLOCK.async_sleep
    asyncio.tasks.sleep = CLOCK.async_sleep
    asyncio.base_events.BaseEventLoop.time = _real_loop_time
    threading.Thread.start = _start_with_creators_time
    return CLOCK
