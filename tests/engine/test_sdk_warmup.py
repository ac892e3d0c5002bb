"""The zygote's SDK rehearsal works on the installed openai version, offline, and starts no
thread (whose memory a forked child would inherit)."""

import socket
import subprocess
import sys
import threading
from pathlib import Path

import openai
import pytest

from grader.engine import sdk_warmup


def test_rehearsal_runs_on_the_installed_sdk_without_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError(f"the rehearsal opened a connection to {args[1:]}")

    started = []
    monkeypatch.setattr(socket.socket, "connect", refuse)
    start = threading.Thread.start

    def record(thread: threading.Thread) -> None:
        started.append(thread.name)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", record)
    sdk_warmup.rehearse(openai)  # raises if a rehearsed call no longer fits the SDK
    # A thread's malloc arena, inherited by every child, would be freed there and enlarge its memory budget.
    assert started == [], f"the rehearsal started threads {started}"


def test_warm_up_fills_the_sdk_type_caches_a_child_inherits() -> None:
    """In a new interpreter (this one's caches are already warm from other tests)."""
    program = (
        "import openai\n"
        "from openai._utils import _transform\n"
        "from grader.engine import sdk_warmup\n"
        "before = _transform._get_annotated_type.cache_info().currsize\n"
        "sdk_warmup.warm_openai()\n"
        "print(before, _transform._get_annotated_type.cache_info().currsize)\n"
    )
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120,
                               cwd=Path(__file__).parents[2], check=True)
    before, after = map(int, completed.stdout.split())
    assert before == 0 and after > 0, completed.stdout
