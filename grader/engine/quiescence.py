"""Whether learner code is waiting for the stub with nothing else left to do.

A check that needs requests to overlap (at most N in flight, answers out of order) used to
hold the stub's replies for a fixed real time and hope that every request the learner's
code would send had arrived by then: slow when the machine is quiet, and wrong when it is
loaded (a request still on its way is missed, so the grade changed with the load). Instead
the stub holds its replies until learner code is *settled*: every thread of its process
asleep in the kernel and none of them run since the last look, and no byte or connection
on the stub's port still unread. Then no further request can come without a reply, however
slow the machine, and the check costs milliseconds instead of a fixed wait.

Linux ``/proc`` tells all of this. Elsewhere (a learner's Mac running ``check()``), settled
falls back to "no thread of the stub busy and no new request for ``QUIET_FALLBACK`` seconds".
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path

WINDOW = 0.006
"""Seconds between the two looks that must agree: longer than CPython's 5 ms switch interval,
so a thread that was only waiting for the GIL has run (and shows it) by the second look."""
QUIET_FALLBACK = 0.05
_ASLEEP = frozenset("STtIXZ")  # D (waiting on a disk) will run again by itself


class Quiescence:
    """``settled()`` for one process (*pid*, and its children: in a sandbox the learner's
    interpreter is the child that is pid 1 of its namespace) talking to the stub on *port*.

    *ignore* names threads of that process that are not learner code (the stub's own
    threads, when the stub serves from the kernel the learner's code runs in).
    """

    def __init__(self, pid: int, port: int, ignore: Callable[[], Collection[int]] = frozenset,
                 children: bool = True):
        self.pid, self.port, self._ignore, self._children = pid, port, ignore, children
        self._proc = Path(f"/proc/{pid}")
        self.available = (self._proc / "task").is_dir() and (self._proc / "net" / "tcp").exists()
        self._last: tuple[float, object] | None = None
        self._processes: list[Path] | None = None  # found on the first look, when the child exists

    def _watched(self) -> list[Path]:
        if self._processes is None:
            from grader.engine.zygote import children_of

            children = children_of(self.pid) if self._children else []
            self._processes = [self._proc, *(Path(f"/proc/{child}") for child in children)]
        return self._processes

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
        """What changes when learner code makes progress; None if it is plainly busy now."""
        ignored = set(self._ignore()) | {threading.get_native_id()}  # the caller: the gate's conductor
        runtimes = []
        try:
            for process in self._watched():
                for task in sorted(os.listdir(process / "task")):
                    if int(task) in ignored:
                        continue
                    stat = (process / "task" / task / "stat").read_text()
                    if stat.rsplit(")", 1)[1].split()[0] not in _ASLEEP:
                        return None
                    runtimes.append((task, (process / "task" / task / "schedstat").read_text().split()[0]))
            if self._unread_on_port():
                return None
        except (OSError, ValueError, IndexError):  # the process or a thread just ended: not settled yet
            return None
        return tuple(runtimes)

    def _unread_on_port(self) -> bool:
        """Bytes waiting to be read, or connections waiting to be accepted, at either end of a
        connection to the stub (for a listening socket, rx_queue counts pending connections)."""
        port = f":{self.port:04X}"
        for table in ("tcp", "tcp6"):
            path = self._proc / "net" / table
            if not path.exists():
                continue
            for line in path.read_text().splitlines()[1:]:
                fields = line.split()
                local, remote, queues = fields[1], fields[2], fields[4]
                if (local.endswith(port) or remote.endswith(port)) and queues.split(":")[1] != "00000000":
                    return True
        return False


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


def settled_probe(pid: int, port: int, arrivals: Callable[[], int],
                  ignore: Callable[[], Collection[int]] = frozenset, children: bool = True) -> Callable[[], bool]:
    """``settled()`` for learner code in *pid* (and its children) using the stub on *port*: from
    ``/proc`` where there is one, else from the stub's request count (*arrivals*)."""
    quiescence = Quiescence(pid, port, ignore, children)
    return quiescence.settled if quiescence.available else QuietFallback(arrivals).settled
