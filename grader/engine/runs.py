"""One notebook's child processes over a whole grading.

A cell that hangs or kills the interpreter is skipped on a fresh start, so the parts that do
not depend on it are still graded. The same holds while the checks run: when learner code
hangs past its limit or takes its process down during one part, the notebook is started
again (the same cells, the same skips) for the parts after it, instead of every later part
scoring zero for unchanged, correct code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.engine.quiescence import settled_probe
from grader.engine.session import CellsRun, ChildGone, ChildSession, Launcher, Limits

MAX_RESTARTS = 3


@dataclass(frozen=True)
class Stop:
    """Learner code stopped responding while a part was checked."""

    part_id: str
    ended_by: str  # "timeout" or "crashed"
    detail: str


class NotebookRun:
    def __init__(self, cells: list[dict], workdir: Path, env: dict[str, str], limits: Limits,
                 launcher: Launcher | None, stub: Any):
        self.cells, self.workdir, self.env, self.limits = cells, workdir, env, limits
        self.launcher, self.stub = launcher, stub
        self.deadline = time.monotonic() + limits.notebook_seconds
        self.run = CellsRun()
        self.session: ChildSession | None = None
        self.isolation = ""
        self.stops: list[Stop] = []
        self._skipped: set[int] = set()
        self._restarts = 0
        self._output: list[str] = []
        self._probe: tuple[int, Callable[[], bool]] | None = None  # (child pid, its settled())

    def start(self) -> CellsRun:
        """Run the cells, skipping on a fresh start any cell that hung or crashed."""
        while True:
            kept = [cell for cell in self.cells if cell["index"] not in self._skipped]
            session = ChildSession(kept, self.workdir, self.env, self.limits, self.deadline, self.launcher,
                                   stub=self.stub)
            self.isolation = self.isolation or session.isolation
            run = session.run_cells()
            self.run.cells.update(run.cells)
            if run.finished:
                self.run.finished, self.session = True, session
                return self.run
            self._output.append(session.close())
            self.run.stopped, self.run.stopped_in, self.run.detail = run.stopped, run.stopped_in, run.detail
            if run.stopped_in is None or time.monotonic() >= self.deadline or self._restarts >= MAX_RESTARTS:
                self.run.finished = False
                return self.run
            self.run.cells[run.stopped_in] = {"index": run.stopped_in, "status": run.stopped,
                                              "error": {"type": run.stopped, "message": run.detail}}
            self._skipped.add(run.stopped_in)
            self._restarts += 1

    def request(self, message: dict) -> dict:
        """One check operation, on whichever child is current."""
        if self.session is None:
            raise ChildGone("the notebook's process is no longer running")
        return self.session.request(message)

    def settled(self) -> bool:
        """Whether learner code is blocked waiting for the stub (see ``quiescence``)."""
        session = self.session
        if session is None or session.server is None:
            return False
        if self._probe is None or self._probe[0] != session.process.pid:
            arrivals = lambda: len(self.stub.requests)  # noqa: E731
            self._probe = (session.process.pid, settled_probe(session.process.pid, session.server.waiting, arrivals))
        return self._probe[1]()

    def after_part(self, part_id: str) -> None:
        """If learner code hung or died while *part_id* was checked, start it again for the rest."""
        session = self.session
        if session is None or session.alive:
            return
        self.stops.append(Stop(part_id, session.ended_by or "crashed", session.ended_detail))
        self._output.append(session.close())
        self.session = None
        if self._restarts < MAX_RESTARTS and time.monotonic() < self.deadline:
            self._restarts += 1
            self.start()

    def close(self) -> str:
        """Stop the current child; the output of every child of this run, in order."""
        if self.session is not None:
            self._output.append(self.session.close())
            self.session = None
        return "".join(self._output)
