"""Batch progress, drawn by rich: a live bar with rate and ETA on a terminal; off a terminal
(CI logs, a pipe) plain lines, at most one per tenth of the way, with no escape codes."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as Bar


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None):
        self.total, self.done = total, 0
        self.console = Console(file=stream or sys.stderr, highlight=False)
        self.started = time.monotonic()
        self._last_tenth = -1
        self.bar: Bar | None = None
        if self.console.is_terminal:
            self.bar = Bar(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                           TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.description}"),
                           console=self.console, transient=False)
            self.task = self.bar.add_task("", total=total)
            self.bar.start()

    def advance(self, label: str = "") -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=label[:40])
            return
        tenth = self.done * 10 // max(self.total, 1)
        if tenth == self._last_tenth and self.done != self.total:
            return
        self._last_tenth = tenth
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate else 0.0
        self.console.print(f"graded {self.done}/{self.total} ({rate:.1f}/s, ETA {eta:.0f} s) {label}",
                           markup=False, soft_wrap=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
