"""The notebook child's look at its parent, which decides whether a cell is blamed for a crash
(the real kill is in tests/engine/test_zygote.py)."""

import builtins
import io
import os

import pytest

from grader.engine.child import parent_dying

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc, which only Linux has")


def _status_of_parent(monkeypatch, answer) -> None:
    """Make reading the parent's /proc status file give *answer* (text, or an exception to raise)."""
    real_open = builtins.open
    path = f"/proc/{os.getppid()}/status"

    def fake_open(file, *args, **kwargs):
        if str(file) != path:
            return real_open(file, *args, **kwargs)
        if isinstance(answer, BaseException):
            raise answer
        return io.StringIO(answer)

    monkeypatch.setattr(builtins, "open", fake_open)


def test_a_live_parent_is_not_dying():
    """A false alarm would kill every notebook's child after its first cell."""
    assert not parent_dying(os.getppid())


def test_a_parent_with_sigkill_pending_is_dying(monkeypatch):
    """Between kill(2) and its death the parent shows SIGKILL (bit 9) pending in ShdPnd."""
    with open("/proc/self/status", encoding="ascii") as real:
        lines = real.read().splitlines()
    lines = ["ShdPnd:\t0000000000000100" if line.startswith("ShdPnd:") else line for line in lines]
    _status_of_parent(monkeypatch, "\n".join(lines) + "\n")
    assert parent_dying(os.getppid())


def test_a_parent_hidden_from_this_uid_is_not_taken_for_dying(monkeypatch):
    """/proc mounted with hidepid hides a zygote running as another user: only re-parenting tells."""
    _status_of_parent(monkeypatch, PermissionError(13, "Permission denied"))
    assert not parent_dying(os.getppid())
