"""The grader's side of one child process: start it, run the cells, relay check operations.

Every limit is enforced twice: by the child itself (an interval timer, rlimits), so a
slow cell costs only that cell, and from here with a hard kill, so a child that ignores
its own limits still cannot hold the grader past them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from grader.engine import isolation
from grader.engine.protocol import Channel, ChannelClosed, ChannelTimeout, ProtocolViolation, receive_with_fd

if TYPE_CHECKING:
    from grader.stub.server import StubServer

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
GRACE_SECONDS = 2.0
SETUP_SECONDS = 30.0  # for the child to enter its sandbox and say so


@dataclass(frozen=True)
class Limits:
    cell_seconds: float = 30.0
    notebook_seconds: float = 180.0
    call_seconds: float = 10.0
    memory_mb: int = 2048
    output_bytes: int = 256 * 1024
    isolation: str = isolation.AUTO  # auto (the best this machine has), strict (namespaces or fail), process


class ChildGone(Exception):
    """The child process is no longer there to answer (it crashed, hung, or was killed)."""


@dataclass
class CellsRun:
    """What happened while the notebook's cells ran."""

    cells: dict[int, dict] = field(default_factory=dict)
    finished: bool = False
    stopped: str | None = None  # "timeout" or "crashed" when the run did not finish
    stopped_in: int | None = None  # cell index running when it stopped
    detail: str = ""


class _CappedReader(threading.Thread):
    """Drains a pipe, keeping only the first ``limit`` bytes, so huge output cannot fill memory."""

    def __init__(self, stream: IO[bytes], limit: int):
        super().__init__(daemon=True)
        self.stream, self.limit = stream, limit
        self.kept = bytearray()
        self.dropped = 0
        self.start()

    def run(self) -> None:
        for chunk in iter(lambda: self.stream.read(65536), b""):
            room = self.limit - len(self.kept)
            self.kept += chunk[: max(room, 0)]
            self.dropped += max(len(chunk) - max(room, 0), 0)

    def text(self) -> str:
        self.join(timeout=1)
        note = f"\n[... {self.dropped} more bytes of output dropped]" if self.dropped else ""
        return self.kept.decode("utf-8", "replace") + note


def child_environment(workdir: Path, extra: dict[str, str]) -> dict[str, str]:
    """A minimal environment: nothing of the grader's own (no real API keys) reaches the child."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(PACKAGE_ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "GRADER_CHILD": "1",
        "PYTHONHASHSEED": "0",  # set and dict-of-set order is the same in every run: the same grade
    }
    env.update(extra)
    return env


class Launcher(Protocol):
    """Starts the child process that serves one notebook on *child_sock*."""

    def launch(self, child_sock: socket.socket, workdir: Path, env: dict[str, str]) -> ChildProcess: ...


class ChildProcess(Protocol):
    """What a session needs of the child: ``subprocess.Popen`` has all of it."""

    pid: int
    stdout: IO[bytes]
    returncode: int | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


class SpawnLauncher:
    """A new interpreter per notebook: simple, and what a single ``grader check`` uses."""

    def launch(self, child_sock: socket.socket, workdir: Path, env: dict[str, str]) -> ChildProcess:
        return subprocess.Popen(
            [sys.executable, "-m", "grader.engine.child", str(child_sock.fileno())],
            pass_fds=[child_sock.fileno()], cwd=workdir, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )


class ChildSession:
    def __init__(self, cells: list[dict], workdir: Path, env: dict[str, str], limits: Limits,
                 deadline: float | None = None, launcher: Launcher | None = None, *, stub: Any):
        """Start the child in its sandbox and serve *stub*'s API to it (never its control API).

        *deadline* (``time.monotonic()``) bounds the whole notebook. Raises
        :class:`isolation.IsolationUnavailable` when ``limits.isolation`` is strict and this
        machine cannot provide it.
        """
        self.limits = limits
        self.deadline = deadline if deadline is not None else time.monotonic() + limits.notebook_seconds
        parent_sock, child_sock = socket.socketpair()
        self.process = (launcher or SpawnLauncher()).launch(child_sock, workdir, env)
        child_sock.close()
        self.channel = Channel(parent_sock)
        self.cell_indices = frozenset(cell["index"] for cell in cells)
        self.output = _CappedReader(self.process.stdout, limits.output_bytes)
        self.alive = True
        self.ended_by, self.ended_detail = "", ""  # why it stopped answering checks, once it has
        self.server: StubServer | None = None
        self.isolation = ""
        self.channel.send({
            "cells": cells, "workdir": str(workdir), "cell_timeout": limits.cell_seconds,
            "call_timeout": limits.call_seconds, "memory_mb": limits.memory_mb,
            "cpu_seconds": int(self._remaining()) + 10,
            "isolation": isolation.policy_for(limits.isolation, workdir).to_dict(),
        })
        self._serve_stub(stub)

    def _serve_stub(self, stub: Any) -> None:
        """The child's first message names its isolation and carries the socket it listens on."""
        from grader.stub.server import StubServer

        try:
            message, listener = receive_with_fd(self.channel.sock, min(SETUP_SECONDS, max(self._remaining(), 0.01)))
        except (ChannelTimeout, ChannelClosed):
            return  # run_cells reports the child as hung or dead
        if message.get("event") == "isolation_failed":
            self.close()
            raise isolation.IsolationUnavailable(message.get("reason", "strict isolation is not available"))
        self.isolation = str(message.get("level", ""))
        if listener is not None:
            self.server = StubServer(stub, listener=socket.socket(fileno=listener), control=False)

    def _remaining(self) -> float:
        return self.deadline - time.monotonic()

    def run_cells(self) -> CellsRun:
        from grader.engine import messages  # imported (pydantic: ~0.3 s) while the child starts

        run = CellsRun()
        current: int | None = None
        while True:
            wait = min(self.limits.cell_seconds + GRACE_SECONDS, self._remaining())
            try:
                event = self.channel.receive(timeout=max(wait, 0.01), decode=messages.cell_event)
                if event.get("index", current) not in self.cell_indices | {None}:
                    raise ProtocolViolation(f"the notebook's process reported cell {event['index']}, which "
                                            "it was not asked to run; learner code wrote to the grading socket")
            except ProtocolViolation as violation:
                self.kill()
                run.stopped, run.stopped_in, run.detail = "crashed", current, str(violation)
                return run
            except ChannelTimeout:
                self.kill()
                run.stopped, run.stopped_in = "timeout", current
                run.detail = self._timeout_detail()
                return run
            except ChannelClosed as error:
                run.stopped, run.stopped_in = "crashed", current
                run.detail = self._crash_detail(error)
                return run
            kind = event.get("event")
            if kind == "cell_start":
                current = event["index"]
            elif kind == "cell_end":
                run.cells[event["index"]] = event
                current = None
            elif kind == "cells_done":
                run.finished = True
                return run

    def _timeout_detail(self) -> str:
        if self._remaining() <= 0:
            return f"the notebook ran longer than its {self.limits.notebook_seconds:g} s limit"
        return f"a cell ran longer than its {self.limits.cell_seconds:g} s limit and did not stop"

    def _crash_detail(self, error: Exception | None = None) -> str:
        try:
            code = self.process.wait(timeout=1 if error else 5)
        except subprocess.TimeoutExpired:
            self.kill()
            if error is not None:  # still running, but what it wrote on the channel was not the protocol
                return f"the notebook's process broke the grading protocol ({error})"
            code = self.process.returncode
        self.alive = False
        if getattr(self.process, "zygote_died", False):
            return "it killed the process that started it (the grader's zygote), and died with it"
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            cause = {"SIGSEGV": "a segmentation fault", "SIGKILL": "it was killed (often: out of memory)",
                     "SIGXCPU": "it used up its CPU-time limit"}.get(name, name)
            return f"the Python process died: {cause} ({name})"
        return f"the Python process exited with code {code} (os._exit or a fatal error)"

    def request(self, message: dict[str, Any]) -> dict:
        """Send one check operation and wait for its reply, within the call and notebook limits."""
        if not self.alive:
            raise ChildGone("the notebook's process is no longer running")
        from grader.engine import messages

        wait = min(self.limits.call_seconds + GRACE_SECONDS, self._remaining())
        try:
            self.channel.send(message)
            return self.channel.receive(timeout=max(wait, 0.01), decode=messages.reply)
        except ProtocolViolation as violation:
            self.kill()
            self.ended_by, self.ended_detail = "crashed", str(violation)
            raise ChildGone(self.ended_detail) from None
        except ChannelTimeout:
            self.kill()
            self.ended_by = "timeout"
            self.ended_detail = (f"learner code did not return within {self.limits.call_seconds:g} s "
                                 "and could not be interrupted")
            raise ChildGone(self.ended_detail) from None
        except ChannelClosed as error:
            self.ended_by, self.ended_detail = "crashed", self._crash_detail(error)
            raise ChildGone(self.ended_detail) from None

    def kill(self) -> None:
        """Kill the child and anything it started (its process group), even after it exited."""
        self.alive = False
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def close(self) -> str:
        """Stop the child (it may have left threads running) and return its captured output."""
        if self.alive:
            try:
                self.channel.send({"op": "close"})
                self.process.wait(timeout=GRACE_SECONDS)
            except (ChannelClosed, subprocess.TimeoutExpired):
                pass
        self.kill()
        self.channel.close()
        if self.server is not None:
            self.server.close()
        return self.output.text()
