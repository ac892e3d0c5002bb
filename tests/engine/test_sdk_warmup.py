"""The zygote's SDK rehearsal works on the installed openai version, offline, and leaves
nothing running that a forked child would inherit."""

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

    monkeypatch.setattr(socket.socket, "connect", refuse)
    threads = set(threading.enumerate())
    sdk_warmup.rehearse(openai)  # raises if a rehearsed call no longer fits the SDK
    assert set(threading.enumerate()) == threads


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
