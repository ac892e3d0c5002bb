"""Time limits on learner code that learner code cannot swallow.

A SIGALRM handler raises :class:`TimeLimit` in the main thread when the limit passes.
A beginner's ``while True: try: ... except: time.sleep(1)`` catches that exception and
carries on, so the limit does not stop at one signal: the timer keeps firing every
``REPEAT`` seconds, and from the first expiry on every line of notebook code raises
``TimeLimit`` again (a trace function on the frames compiled from cells), so it
propagates out of any ``except`` or ``finally`` in the learner's code. Library code
(the SDK, the standard library) is left to unwind normally.
"""

from __future__ import annotations

import sys

# signal.signal wraps this in enum conversions that cost 5 us a call (0.35 us here); every check
# operation sets and restores the handler: two calls of some 300 per graded notebook.
from _signal import signal as set_handler
from collections.abc import Iterator
from contextlib import contextmanager
from signal import ITIMER_REAL, SIGALRM, setitimer
from types import FrameType
from typing import Any

from grader.engine import protocol

REPEAT = 0.05
LEARNER_FILENAMES = ("<cell ",)  # see cells.CELL_FILENAME


# Our own clean-up, and reading or writing a message on the channel (a grading-side call
# waiting for its answer): interrupting those would leave the timer armed or the channel
# out of step.
_NEVER_INTERRUPTED = frozenset({__file__, protocol.__file__})


class TimeLimit(BaseException):
    """Raised inside learner code when it runs past its time limit.

    A BaseException so that ``except Exception`` in learner code does not swallow it.
    """


def _is_learner_frame(frame: FrameType) -> bool:
    return frame.f_code.co_filename.startswith(LEARNER_FILENAMES)


def _raise_in_learner_code(frame: FrameType, event: str, arg: Any) -> Any:
    if not _is_learner_frame(frame):
        return None  # do not trace library frames: they unwind as usual
    if event == "line":
        raise TimeLimit()
    return _raise_in_learner_code


class Deadline:
    """``with Deadline().limit(seconds):`` runs learner code under a time limit (main thread)."""

    def __init__(self) -> None:
        self._armed = False
        self.expired = False

    @contextmanager
    def limit(self, seconds: float | None) -> Iterator[None]:
        """Raise :class:`TimeLimit` in the block after *seconds* (no limit for None).

        Callers catch ``TimeLimit`` *outside* the ``with``: the exception may surface
        from anywhere inside, even from this context manager's own exit.
        """
        if seconds is None:
            yield
            return
        previous = set_handler(SIGALRM, self._fire)
        self.expired, self._armed = False, True
        setitimer(ITIMER_REAL, seconds, REPEAT)
        try:
            yield
        finally:
            self._armed = False
            setitimer(ITIMER_REAL, 0)
            sys.settrace(None)
            set_handler(SIGALRM, previous)

    def _fire(self, signum: int, frame: FrameType | None) -> None:
        if not self._armed or (frame is not None and frame.f_code.co_filename in _NEVER_INTERRUPTED):
            return  # disarming, or half-way through a message: the timer fires again soon
        if not self.expired:
            self.expired = True
            sys.settrace(_raise_in_learner_code)
            while frame is not None:
                if _is_learner_frame(frame):
                    frame.f_trace = _raise_in_learner_code
                frame = frame.f_back
        raise TimeLimit()
