"""A warm parent for notebook children: import the heavy modules once, fork per notebook.

``import openai`` alone costs about a second in a new interpreter. A zygote process
imports it (and numpy, faiss, ...) once, with a clean environment and no threads, then
forks a fresh child for every notebook. Each child is a copy of the clean zygote, never
of a previous submission, so isolation is the same as a new interpreter's.

The grader talks to the zygote over a Unix socket: a launch request carries the child's
working folder and environment, and (as ancillary data) the child's end of the grading
socket and the write end of its output pipe. The zygote replies with the child's pid and,
once it has reaped the child, its exit code.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

DEFAULT_PRELOAD = ("numpy", "openai", "faiss", "httpx2", "grader.engine.child", "grader.engine.cells")
_MESSAGE = 1 << 16


class ForkedChild:
    """The ``Popen``-like view of a child forked by the zygote."""

    def __init__(self, pid: int, stdout: IO[bytes], launcher: ZygoteLauncher):
        self.pid, self.stdout, self.returncode = pid, stdout, None
        self._launcher = launcher

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._launcher._exit_code(timeout=0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self._launcher._exit_code(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
        return self.returncode


class ZygoteLauncher:
    """Start children by forking a pre-warmed zygote; one notebook at a time per launcher."""

    def __init__(self, preload: tuple[str, ...] = DEFAULT_PRELOAD):
        from grader.engine.session import child_environment

        self._control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = child_environment(Path(tempfile.gettempdir()), {})
        self._process = subprocess.Popen(
            [sys.executable, "-m", "grader.engine.zygote", str(theirs.fileno()), *preload],
            pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        theirs.close()
        self._receive(timeout=120)  # "ready": the preloads are imported

    def launch(self, child_sock: socket.socket, workdir: Path, env: dict[str, str]) -> ForkedChild:
        read_end, write_end = os.pipe()
        request = json.dumps({"cwd": str(workdir), "env": env}).encode()
        try:
            socket.send_fds(self._control, [request], [child_sock.fileno(), write_end])
        finally:
            os.close(write_end)
        return ForkedChild(self._receive(timeout=30)["pid"], os.fdopen(read_end, "rb"), self)

    def _receive(self, timeout: float | None) -> dict:
        ready = select.select([self._control], [], [], timeout)[0]
        if not ready:
            raise TimeoutError("the zygote did not answer")
        data = self._control.recv(_MESSAGE)
        if not data:
            raise RuntimeError(f"the zygote exited (code {self._process.poll()})")
        return json.loads(data)

    def _exit_code(self, timeout: float | None) -> int | None:
        try:
            return self._receive(timeout)["exit"]
        except TimeoutError:
            return None

    def close(self) -> None:
        self._control.close()
        self._process.wait(timeout=10)

    def __enter__(self) -> ZygoteLauncher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _child(control: socket.socket, request: dict, fds: list[int]) -> None:
    """In the forked child: become a session leader with the job's folder, env and output."""
    try:
        control.close()
        os.setsid()
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


def serve(control: socket.socket) -> None:
    """Fork a child per launch request; report its pid, then its exit code once reaped."""
    while True:
        message, fds, _, _ = socket.recv_fds(control, _MESSAGE, 2)
        if not message:
            return
        pid = os.fork()
        if pid == 0:
            _child(control, json.loads(message), fds)
        for fd in fds:
            os.close(fd)
        control.send(json.dumps({"pid": pid}).encode())
        _, status = os.waitpid(pid, 0)
        control.send(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())


def _warm_openai() -> None:
    """The SDK imports its resource modules on first use: do that once here, not per child.

    Every SDK client also builds a TLS context from the CA bundle (about 30 ms), even for
    the stub's plain-HTTP address; children share one built here. A context is meant to
    be shared, and a child's changes to it stay in that child.
    """
    openai = sys.modules.get("openai")
    if openai is None:
        return
    try:
        import httpcore2  # the SDK's transport imports it lazily, on the first client
    except ImportError:
        httpcore2 = None
    if hasattr(httpcore2, "default_ssl_context"):
        httpcore2.default_ssl_context = functools.cache(httpcore2.default_ssl_context)
    client = openai.OpenAI(api_key="warm-up", base_url="http://127.0.0.1:9/v1")
    for resource in ("chat", "embeddings", "responses", "models"):
        getattr(client, resource)
    client.chat.completions  # noqa: B018 - touching it imports the module
    client.close()


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    for module in sys.argv[2:]:
        # Optional (e.g. faiss not installed): children import it themselves if they need it.
        with contextlib.suppress(ImportError):
            __import__(module)
    _warm_openai()
    control.send(json.dumps({"ready": True}).encode())
    with contextlib.suppress(OSError):  # the grader went away
        serve(control)


if __name__ == "__main__":
    main()
