"""A warm parent for notebook children: import the heavy modules once, fork per notebook.

``import openai`` alone costs about a second in a new interpreter. A zygote process
imports it (and numpy, faiss, ...) once, with a clean environment and no threads, then
forks a fresh child for every notebook. Each child is a copy of the clean zygote, never
of a previous submission, so isolation is the same as a new interpreter's.

The grader talks to the zygote over a Unix socket: a launch request carries the child's
working folder and environment, and (as ancillary data) the child's end of the grading
socket and the write end of its output pipe. The zygote replies ``{"started": pid}`` and,
once it has reaped the child, ``{"exit": code, "pid": pid}``.

A batch starts one ``ZygoteTemplate`` before its workers: a warm interpreter that forks a
zygote for each worker that asks. The heavy modules are then imported once per batch, not
once per worker, and while the workers themselves start.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

from grader.engine.sdk_warmup import warm_openai

DEFAULT_PRELOAD = (
    "numpy", "numpy.random", "openai", "faiss", "httpx2",
    "encodings.idna", "anyio._backends._asyncio",  # on the first request, and the first async one
    "grader.engine.child", "grader.engine.cells",
    "grader.datasets.restaurant8k", "grader.datasets.scifact",  # what the exercises load
    "grader.agentdesk.bfcl", "grader.agentdesk.desk",
)
_MESSAGE = 1 << 16
UNANSWERED_SECONDS = 5.0  # a zygote reports a killed child's exit in milliseconds (orphans included)
_TEMPLATE = "--template"
_PR_SET_PDEATHSIG, _PR_SET_CHILD_SUBREAPER = 1, 36


class ForkedChild:
    """The ``Popen``-like view of a child forked by the zygote."""

    def __init__(self, pid: int, stdout: IO[bytes], launcher: ZygoteLauncher):
        self.pid, self.stdout, self.returncode = pid, stdout, None
        self.zygote_died = False  # the child took its zygote down (it then died with it)
        self._launcher = launcher

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._launcher._exit_code(self, timeout=0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self._launcher._exit_code(self, timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
        return self.returncode


class ZygoteGone(RuntimeError):
    """The zygote process exited (killed by a child, or it failed to start)."""


def _interpreter(control_fd: int, *args: str) -> subprocess.Popen:
    """A new zygote interpreter (``python -m grader.engine.zygote``) with a clean environment."""
    from grader.engine.session import child_environment

    env = child_environment(Path(tempfile.gettempdir()), {})
    return subprocess.Popen([sys.executable, "-m", "grader.engine.zygote", str(control_fd), *args],
                            pass_fds=[control_fd], env=env, stdin=subprocess.DEVNULL, start_new_session=True)


class ZygoteTemplate:
    """A warm interpreter that forks a zygote for each :class:`ZygoteLauncher` given its
    ``socket`` (which can be handed to pool workers); it starts importing at once and exits
    when every holder of the socket has closed it."""

    def __init__(self, preload: tuple[str, ...] = DEFAULT_PRELOAD):
        self.socket, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            self._process = _interpreter(theirs.fileno(), _TEMPLATE, *preload)

    def close(self) -> None:
        """Stop the template. Zygotes it forked are processes of their own and go on serving."""
        self.socket.close()
        self._process.kill()  # it may still be importing: a run with nothing to grade need not wait
        self._process.wait()

    def __enter__(self) -> ZygoteTemplate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ZygoteLauncher:
    """Start children by forking a pre-warmed zygote; one notebook at a time per launcher.

    The zygote is forked by *template* (a :class:`ZygoteTemplate`'s socket) when one is
    given and still there, else started as a new interpreter. A zygote that dies (a child
    killed it) is started again on the next launch, so one submission cannot stop a worker
    from grading the rest. *cpus*: the cores the zygote, and so every child, may run on.
    """

    def __init__(self, preload: tuple[str, ...] = DEFAULT_PRELOAD, template: socket.socket | None = None,
                 cpus: set[int] | None = None):
        self._preload, self._template, self._cpus = preload, template, cpus
        self.restarts = 0
        self._exits: dict[int, int] = {}
        self._start()

    def _start(self) -> None:
        self._control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._process: subprocess.Popen | None = None
        with theirs:
            if self._template is not None:
                try:
                    socket.send_fds(self._template, [b"zygote"], [theirs.fileno()])
                except OSError:  # the template is gone: start zygotes of our own from now on
                    self._template = None
            if self._template is None:
                self._process = _interpreter(theirs.fileno(), *self._preload)
        self._pid = self._receive(timeout=120)["ready"]  # the preloads are imported
        if self._cpus:  # the children it forks inherit the placement
            os.sched_setaffinity(self._pid, self._cpus)

    def launch(self, child_sock: socket.socket, workdir: Path, env: dict[str, str]) -> ForkedChild:
        try:
            return self._launch(child_sock, workdir, env)
        except (ZygoteGone, OSError):
            self._stop()
            self.restarts += 1
            self._start()
            return self._launch(child_sock, workdir, env)

    def _launch(self, child_sock: socket.socket, workdir: Path, env: dict[str, str]) -> ForkedChild:
        read_end, write_end = os.pipe()
        request = json.dumps({"cwd": str(workdir), "env": env}).encode()
        try:
            socket.send_fds(self._control, [request], [child_sock.fileno(), write_end])
            pid = self._receive_for("started", None, timeout=30)["started"]
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        return ForkedChild(pid, os.fdopen(read_end, "rb"), self)

    def _receive(self, timeout: float | None) -> dict:
        ready = select.select([self._control], [], [], timeout)[0]
        if not ready:
            raise TimeoutError("the zygote did not answer")
        try:
            data = self._control.recv(_MESSAGE)
        except OSError:
            data = b""
        if not data:
            code = self._process.poll() if self._process is not None else None
            raise ZygoteGone(f"the zygote exited (code {code})")
        return json.loads(data)

    def _receive_for(self, kind: str, pid: int | None, timeout: float | None) -> dict:
        """The next message of *kind* (about *pid*); exit codes of other children, which an
        earlier session left unread, are kept for whoever asks for them."""
        while True:
            message = self._receive(timeout)
            if kind in message and (pid is None or message.get("pid") == pid):
                return message
            if "exit" in message:
                self._exits[message["pid"]] = message["exit"]

    def _exit_code(self, child: ForkedChild, timeout: float | None) -> int | None:
        """The child's exit code, None if *timeout* passes first. Waiting without a timeout
        (for a child already killed) lasts ``UNANSWERED_SECONDS`` at most: a zygote that says
        nothing by then was stopped (learner code can SIGSTOP it) and is killed, and its child
        with it; the next launch starts another."""
        if child.pid in self._exits:
            return self._exits.pop(child.pid)
        try:
            return self._receive_for("exit", child.pid, UNANSWERED_SECONDS if timeout is None else timeout)["exit"]
        except TimeoutError:
            if timeout is not None:
                return None
            self._stop()
            return -signal.SIGKILL
        except ZygoteGone:
            child.zygote_died = True
            return -signal.SIGKILL  # a zygote's child dies with it (PR_SET_PDEATHSIG)

    def _stop(self) -> None:
        self._control.close()
        self._kill()

    def close(self) -> None:
        """Let the zygote exit (it sees its socket close); kill it if it does not (stopped)."""
        self._control.close()
        if not self._reap():
            self._kill()

    def _kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._pid, signal.SIGKILL)
        self._reap()

    def _reap(self) -> bool:
        """Wait (10 s at most) until the zygote has exited; one forked by a template is its child."""
        if self._process is not None:
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                return False
            return True
        try:
            exited = os.pidfd_open(self._pid)
        except ProcessLookupError:
            return True
        try:
            return bool(select.select([exited], [], [], 10)[0])
        finally:
            os.close(exited)

    def __enter__(self) -> ZygoteLauncher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _child(control: socket.socket, request: dict, fds: list[int]) -> None:
    """In the forked child: become a session leader with the job's folder, env and output,
    and die with the zygote."""
    try:
        control.close()
        os.setsid()
        _die_with_parent()
        grading_fd, output_fd = fds
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.close(output_fd)
        os.close(devnull)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        from grader.engine import child

        child.run(socket.socket(fileno=grading_fd))
    finally:
        os._exit(1)


def _die_with_parent() -> None:
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _kill_orphans() -> None:
    """Kill what a child left behind. The zygote is a subreaper, so a learner's process that
    detached itself (double fork, setsid) is re-parented here, not to init, and ends now."""
    for _ in range(100):
        orphans = children_of(os.getpid())
        if not orphans:
            return
        for pid in orphans:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in orphans:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def children_of(parent: int) -> list[int]:
    """The pids whose parent is *parent*, from /proc (there is no per-task children file on every kernel)."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == parent:
                        children.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return children


def _wait(pid: int, control: socket.socket) -> int:
    """Wait for the child; if the grader goes away meanwhile (its end of *control* closes),
    kill the child and exit, so nothing of a killed grader keeps running learner code."""
    pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
    watched: list = [control] + ([pidfd] if pidfd is not None else [])
    while True:
        ready = select.select(watched, [], [], None if pidfd is not None else 0.2)[0]
        if control in ready:
            if not control.recv(_MESSAGE, socket.MSG_PEEK):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                os._exit(0)
            watched.remove(control)  # a request is waiting: it is read once this child is done
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            if pidfd is not None:
                os.close(pidfd)
            return os.waitstatus_to_exitcode(status)


_BLOCKABLE = frozenset(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}


def serve(control: socket.socket) -> None:
    """Fork a child per launch request; report its pid, then its exit code once reaped.

    Every signal that can be blocked is, here and not in the children: learner code that sends
    its zygote SIGTERM or SIGINT leaves it serving, and SIGKILL, the one left to kill it with,
    shows as pending to the child for as long as the zygote takes to die (``child.parent_dying``).
    """
    unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKABLE)
    subreaper = sys.platform == "linux"
    if subreaper:
        import ctypes

        ctypes.CDLL(None).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    while True:
        message, fds, _, _ = socket.recv_fds(control, _MESSAGE, 2)
        if not message:
            return
        pid = os.fork()
        if pid == 0:
            signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)
            _child(control, json.loads(message), fds)
        for fd in fds:
            os.close(fd)
        control.send(json.dumps({"started": pid}).encode())
        code = _wait(pid, control)
        if subreaper:
            _kill_orphans()
        control.send(json.dumps({"exit": code, "pid": pid}).encode())


def serve_template(control: socket.socket) -> None:
    """Fork a zygote for each request, serving the socket the request carries; stop when every
    holder of *control* has closed it."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the zygotes
    while True:
        message, fds, _, _ = socket.recv_fds(control, _MESSAGE, 1)
        if not message:
            return
        if fds and os.fork() == 0:
            try:
                control.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # a zygote waits for its own children
                os.setsid()
                _serve_as_zygote(socket.socket(fileno=fds[0]))
            finally:
                os._exit(0)
        for fd in fds:
            os.close(fd)


def _serve_as_zygote(control: socket.socket) -> None:
    control.send(json.dumps({"ready": os.getpid()}).encode())
    with contextlib.suppress(OSError):  # the grader went away
        serve(control)


def main() -> None:
    fd, *preload = sys.argv[1:]
    template = preload[:1] == [_TEMPLATE]
    preload = preload[1:] if template else preload
    control = socket.socket(fileno=int(fd))
    for module in preload:
        # Optional (e.g. faiss not installed): children import it themselves if they need it.
        with contextlib.suppress(ImportError):
            __import__(module)
    warm_openai()
    if template:
        serve_template(control)
    else:
        _serve_as_zygote(control)


if __name__ == "__main__":
    main()
