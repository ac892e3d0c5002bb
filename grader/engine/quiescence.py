"""Whether learner code is waiting for the stub with nothing else left to do.

A check that needs requests to overlap (at most N in flight, answers out of order) used to
hold the stub's replies for a fixed real time and hope that every request the learner's
code would send had arrived by then: slow when the machine is quiet, and wrong when it is
loaded (a request still on its way is missed, so the grade changed with the load). Instead
the stub holds its replies until learner code is *settled*: every thread of its process
asleep in the kernel and none of them run since the last look, no connection or byte
waiting at the stub's end, and no new request since the last look. Then no further request
can come without a reply, however slow the machine, and the check costs milliseconds
instead of a fixed wait.

The learner's end of a connection needs no look: the kernel makes a thread waiting on a
socket runnable as the bytes arrive. (Asking the kernel for it, in ``/proc/<pid>/net/tcp``,
walks the machine's whole TCP hash table: 7-10 ms a look, which made the checks slow.)

Linux ``/proc`` tells the threads' states. Elsewhere (a learner's Mac running ``check()``),
settled falls back to "no new request for ``QUIET_FALLBACK`` seconds".
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Collection

WINDOW = 0.006
"""Seconds between the two looks that must agree: longer than CPython's 5 ms switch interval,
so a thread that was only waiting for the GIL has run (and shows it) by the second look."""
QUIET_FALLBACK = 0.05
_ASLEEP = frozenset({b"S", b"T", b"t", b"I", b"X", b"Z"})  # D (waiting on a disk) will run again by itself


class Quiescence:
    """``settled()`` for one process (*pid*, and its children: in a sandbox the learner's
    interpreter is the child that is pid 1 of its namespace) talking to a stub.

    *waiting* says whether something waits at the stub's end (``StubServer.waiting``);
    *arrivals* counts the requests the stub has seen. *ignore* names threads of that process
    that are not learner code (the stub's own threads, when the stub serves from the kernel
    the learner's code runs in).
    """

    def __init__(self, pid: int, waiting: Callable[[], bool], arrivals: Callable[[], int],
                 ignore: Callable[[], Collection[int]] = frozenset, children: bool = True):
        self.pid, self._waiting, self._arrivals = pid, waiting, arrivals
        self._ignore, self._children = ignore, children
        self.available = os.path.isdir(f"/proc/{pid}/task")
        self._last: tuple[float, object] | None = None
        self._tasks: list[str] | None = None  # found on the first look, when the child exists

    def _watched(self) -> list[str]:
        """The ``/proc/<pid>/task/`` folders to look in (plain strings: a look reads a few files per
        thread dozens of times a check, and with ``pathlib`` a look cost three times as much)."""
        if self._tasks is None:
            from grader.engine.zygote import children_of

            children = children_of(self.pid) if self._children else []
            self._tasks = [f"/proc/{process}/task/" for process in (self.pid, *children)]
        return self._tasks

    def settled(self) -> bool:
        """True once two looks at least ``WINDOW`` apart saw the same asleep, silent process."""
        now = time.monotonic()
        look = self._look() if self.available else None
        if look is None:
            self._last = None
            return False
        if self._last is None or self._last[1] != look:
            self._last = (now, look)
            return False
        return now - self._last[0] >= WINDOW

    def _look(self) -> tuple | None:
        """What changes when learner code or the stub makes progress; None if plainly busy now.

        A request the stub has read but not yet counted is covered too: the learner's thread
        ran to send it, so its run time differs from the last look's.
        """
        ignored = set(self._ignore()) | {threading.get_native_id()}  # the caller: the gate's conductor
        runtimes = []
        try:
            for tasks in self._watched():
                for task in sorted(os.listdir(tasks)):
                    if int(task) in ignored:
                        continue
                    if _read(f"{tasks}{task}/stat").rsplit(b")", 1)[1].split()[0] not in _ASLEEP:
                        return None
                    runtimes.append((task, _read(f"{tasks}{task}/schedstat").split()[0]))
        except (OSError, ValueError, IndexError):  # the process or a thread just ended: not settled yet
            return None
        if self._waiting():
            return None
        return self._arrivals(), tuple(runtimes)


def _read(path: str) -> bytes:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        return os.read(descriptor, 4096)
    finally:
        os.close(descriptor)


class QuietFallback:
    """Where ``/proc`` is missing: settled once no new request arrived for ``QUIET_FALLBACK`` s."""

    def __init__(self, arrivals: Callable[[], int]):
        self._arrivals = arrivals
        self._last: tuple[float, int] | None = None

    def settled(self) -> bool:
        now, seen = time.monotonic(), self._arrivals()
        if self._last is None or self._last[1] != seen:
            self._last = (now, seen)
            return False
        return now - self._last[0] >= QUIET_FALLBACK


def settled_probe(pid: int, waiting: Callable[[], bool], arrivals: Callable[[], int],
                  ignore: Callable[[], Collection[int]] = frozenset, children: bool = True) -> Callable[[], bool]:
    """``settled()`` for learner code in *pid* (and its children) using a stub (*waiting*, *arrivals*:
    see :class:`Quiescence`): from ``/proc`` where there is one, else from the request count alone."""
    quiescence = Quiescence(pid, waiting, arrivals, ignore, children)
    return quiescence.settled if quiescence.available else QuietFallback(arrivals).settled
