"""Entry point of the child process that runs one learner notebook.

Protocol (over the socket whose fd is argv[1]): the grader sends one ``job``; the child
applies its limits, runs every code cell (reporting ``cell_start``/``cell_end``), sends
``cells_done`` and then answers check operations (see ``workspace``) until ``close``.
"""

from __future__ import annotations

import builtins
import os
import random
import signal
import socket
import sys
import zlib
from typing import Any

from grader.engine import clock, isolation, sandbox
from grader.engine.cells import CellRunner
from grader.engine.protocol import Channel, ChannelClosed, send_with_fd
from grader.engine.workspace import Workspace


def _display(*objects: Any, **_: Any) -> None:
    for item in objects:
        print(repr(item))


def seed_learner_randomness(cells: list[dict]) -> None:
    """Seed ``random`` (and numpy's global generator) from the notebook's code, so learner code
    that draws random numbers (jitter, shuffles) behaves the same in every grading of a file."""
    seed = zlib.crc32("\0".join(cell["source"] for cell in cells).encode())
    random.seed(seed)
    try:  # preloaded by the zygote; imported here otherwise, so spawned and forked children agree
        import numpy
    except ImportError:
        return
    numpy.random.seed(seed)


_SIGKILL_BIT = 1 << (signal.SIGKILL - 1)


def parent_dying(parent: int) -> bool:
    """Whether *parent* has died (this process was handed to another) or has a SIGKILL pending.

    ``kill(2)`` returns before its target dies, and this process dies with its parent only
    once the parent has finished dying (``PR_SET_PDEATHSIG``). Without this look, a cell that
    kills its parent would sometimes end first and the crash would land on a later check.
    Another fatal signal would be pending as itself, not SIGKILL; the zygote blocks them all.
    """
    if os.getppid() != parent:
        return True
    try:
        with open(f"/proc/{parent}/status", encoding="ascii") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
    except OSError:  # hidden from this uid (/proc mounted with hidepid): only the re-parenting tells
        return False
    pending = int(fields.get("SigPnd", "0"), 16) | int(fields.get("ShdPnd", "0"), 16)
    return bool(pending & _SIGKILL_BIT)


def run_job(channel: Channel, job: dict) -> None:
    sandbox.apply_limits(job.get("memory_mb"), job.get("cpu_seconds"))
    clock.install()
    seed_learner_randomness(job["cells"])
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins, "display": _display}
    runner = CellRunner(namespace)
    parent = os.getppid()  # 0 in a PID namespace: the parent is outside it, out of learner code's reach
    for cell in job["cells"]:
        channel.send({"event": "cell_start", "index": cell["index"]})
        result = runner.run(cell["source"], cell["index"] + 1, job["cell_timeout"])
        if parent > 1 and parent_dying(parent):
            os.kill(os.getpid(), signal.SIGKILL)  # now, in the cell that did it, as PDEATHSIG would soon
        channel.send({"event": "cell_end", "index": cell["index"], **result})
    channel.send({"event": "cells_done"})
    def ask_grader(message: dict) -> dict:
        channel.send(message)
        return channel.receive()

    serve(channel, Workspace(namespace, loop=runner.loop, call_timeout=job["call_timeout"], ask=ask_grader))


def serve(channel: Channel, workspace: Workspace) -> None:
    """Answer check operations until ``close``; whatever learner code does in one call (overrun,
    return something unencodable, raise anything) becomes that call's reply, and the next
    check is answered."""
    while True:
        try:
            request = channel.receive()
        except ChannelClosed:
            return
        if request.get("op") == "close":
            return
        if request.get("op") == "callback_result":
            continue  # the answer to a call request learner code forged: nobody waits for it
        channel.send(workspace.run(request))


def _isolate(sock: socket.socket, job: dict) -> None:
    """Enter the sandbox, then hand the grader a listening socket for the stub's API, made
    inside the sandbox's network namespace: the only address learner code can reach."""
    try:
        level = isolation.enter(isolation.Policy.from_dict(job["isolation"]))
    except (isolation.IsolationUnavailable, OSError) as error:
        Channel(sock).send({"event": "isolation_failed", "reason": str(error)})
        os._exit(0)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        port = listener.getsockname()[1]
        send_with_fd(sock, {"event": "isolated", "level": level, "port": port}, listener.fileno())
    os.environ["OPENAI_BASE_URL"] = f"http://127.0.0.1:{port}/v1"


def run(sock: socket.socket) -> None:
    """Serve one job on *sock*, then exit the process (spawned or forked alike)."""
    channel = Channel(sock)
    try:
        job = channel.receive()
        _isolate(sock, job)
        os.chdir(job["workdir"])
        run_job(channel, job)
    except ChannelClosed:
        pass
    finally:
        sys.stdout.flush()
        os._exit(0)  # do not wait for threads learner code left running


def _preload() -> None:
    """Import what a zygote preloads, so a spawned child starts where a forked one does: the
    same imports, the same address space used, so the same memory limit means the same."""
    import contextlib

    from grader.engine.zygote import DEFAULT_PRELOAD

    for module in DEFAULT_PRELOAD:
        with contextlib.suppress(ImportError):
            __import__(module)


if __name__ == "__main__":
    _preload()
    run(socket.socket(fileno=int(sys.argv[1])))
