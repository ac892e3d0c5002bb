"""A one-line progress bar with rate and ETA (no dependency; redraws in place on a terminal)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30):
        self.total, self.done, self.width = total, 0, width
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.live = self.stream.isatty()
        self._last_line = -1.0

    def advance(self, label: str = "") -> None:
        self.done += 1
        elapsed = time.monotonic() - self.started
        # Off a terminal (CI logs), print at most one line every 10% of the way.
        if not self.live and self.done != self.total and self.done * 10 // self.total == self._last_line:
            return
        self._last_line = self.done * 10 // self.total
        self.stream.write(("\r" if self.live else "") + self.line(elapsed, label) + ("" if self.live else "\n"))
        self.stream.flush()

    def line(self, elapsed: float, label: str = "") -> str:
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate else 0.0
        filled = self.width * self.done // max(self.total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        return (f"[{bar}] {self.done}/{self.total} {rate:.1f}/s ETA {_clock(eta)} {label[:40]:<40}")

    def close(self) -> None:
        if self.live and self.done:
            self.stream.write("\n")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"
