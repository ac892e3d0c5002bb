"""Hostile learners in an ordinary batch (see ``hostile.py``): every attack fails, every honest
learner is graded as if they were alone, and nothing outside the sandbox changes.

Namespaces are tested as the user running the tests (root in CI: learner code then runs as an
unprivileged uid) and, when that user is root, again as ``nobody`` (learner code then runs in a
user namespace). The process-only level is tested for what it still guarantees.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.batch.gradebook import KNOWN_OBJECTS
from grader.engine import result as R
from grader.engine.isolation import IsolationUnavailable, probe
from tests.batch import hostile

FULL = 3.0
NAMESPACE_COHORT = {
    "a_snoop": ("snoop", False), "b_leftover": ("leftover", False), "c_honest": (None, False),
    "d_kill_parent": ("kill_parent", False), "e_forge": ("forge", True), "f_fork_bomb": ("fork_bomb", False),
    "g_fill_disk": ("fill_disk", False), "h_honest": (None, False),
}


@pytest.fixture(scope="module")
def namespaces() -> str:
    try:
        return probe("strict")
    except IsolationUnavailable as error:
        pytest.skip(f"this machine cannot give learner code its own namespaces: {error}")


def lines(report: dict, learner: str, prefix: str) -> list[str]:
    return [line for line in report["results"][learner]["output"].splitlines() if line.startswith(prefix)]


def assert_contained(report: dict) -> None:
    """What every isolation level with namespaces must guarantee, read off a cohort's report."""
    results = report["results"]
    assert set(results) == set(NAMESPACE_COHORT), "every learner is in the gradebook"
    assert report["tampered"] is None and not report["errors"]
    for learner in ("a_snoop", "b_leftover", "c_honest", "f_fork_bomb", "g_fill_disk", "h_honest"):
        assert results[learner]["score"] == FULL, (learner, results[learner]["parts"])
    assert results["e_forge"]["score"] == 0 and lines(report, "e_forge", "FORGE failed")
    assert {tuple(item) for item in report["schema"]} == KNOWN_OBJECTS, "no trigger or view was planted"
    # Its parent is outside its PID namespace: getppid() is 0, and a signal to its own group
    # cannot reach the namespace's init (itself) either, so nothing at all is killed.
    assert results["d_kill_parent"]["score"] == FULL and results["d_kill_parent"]["status"] == R.GRADED
    snoop = "\n".join(lines(report, "a_snoop", ""))
    assert lines(report, "a_snoop", "SEE") and all(line.endswith("False") for line in lines(report, "a_snoop", "SEE"))
    written = [line.split()[1] for line in lines(report, "a_snoop", "WROTE")]
    assert all(path.startswith("/tmp/") for path in written), written  # its own private /tmp at most
    assert "LINK False" in snoop and "NET refused" in snoop
    assert lines(report, "a_snoop", "CONTROL") == ["CONTROL /_stub/requests closed 404",
                                                    "CONTROL /_stub/faults closed 404"]
    assert "GRADER-ENV hidden" in snoop and "SIGNAL grader unreachable" in snoop
    assert "GRADER_TEST_SECRET" not in snoop
    fds = lines(report, "a_snoop", "FDS")[0]
    assert report["paths"]["out"] not in fds and report["paths"]["submissions"] not in fds
    forks = lines(report, "f_fork_bomb", "FORKS")
    assert forks and forks[0].startswith("FORKS stopped at"), forks
    assert int(forks[0].split()[3]) <= 256 + 50  # 256 more than the account ran before (a few, here)
    disk = lines(report, "g_fill_disk", "DISK")
    assert disk and disk[0].startswith("DISK stopped at") and int(disk[0].split()[3]) <= 256 << 20, disk
    assert not report["host_port_reached"], "a subprocess of learner code reached the host's loopback"
    assert report["files_written"] == [] and report["leftovers"] == []
    assert all(result["isolation"].startswith("namespaces") for result in results.values())


def test_hostile_cohort_with_namespaces(namespaces, tmp_path):
    report = hostile.run_cohort(tmp_path, NAMESPACE_COHORT, "strict")
    assert_contained(report)
    expected = "namespaces + unprivileged uid" if os.geteuid() == 0 else "namespaces + user namespace"
    assert {result["isolation"] for result in report["results"].values()} == {expected}


def _as_nobody() -> list[str]:
    """A command prefix running as ``nobody`` in a private mount namespace where /root (mode
    0700) is replaced by an empty tmpfs holding only what the run needs from it: the Python
    installation and the checkout, when they live there."""
    keep = [str(path) for path in (Path(sys.base_prefix), hostile.ROOT) if Path("/root") in path.parents]
    script = "set -e; mount --make-rprivate /; "
    for number, path in enumerate(keep):
        script += f"mkdir -p /run/grader-test-{number}; mount --bind {path} /run/grader-test-{number}; "
    script += "mount -t tmpfs -o mode=0755 tmpfs /root; "
    for number, path in enumerate(keep):
        script += f"mkdir -p {path}; mount --bind /run/grader-test-{number} {path}; "
    script += 'exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$@"'
    return ["unshare", "--mount", "sh", "-c", script, "sh"]


def test_hostile_cohort_as_an_unprivileged_user(namespaces):
    if os.geteuid() != 0:
        pytest.skip("already unprivileged: test_hostile_cohort_with_namespaces ran as this user")
    if not (shutil.which("unshare") and shutil.which("setpriv")):
        pytest.skip("needs util-linux's unshare and setpriv to switch to the nobody account")
    command = [*_as_nobody(), sys.executable, "-m", "tests.batch.hostile", "strict", json.dumps(NAMESPACE_COHORT)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=hostile.ROOT,
                               env={**os.environ, "PYTHONPATH": str(hostile.ROOT)})
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.splitlines()[-1])
    assert_contained(report)
    assert {result["isolation"] for result in report["results"].values()} == {"namespaces + user namespace"}


def test_process_level_keeps_the_batch_going(tmp_path):
    """Without namespaces learner code may reach the grading processes (when it runs as the
    grader's user); still no learner can stop the batch, meddle with another's stub, or leave a
    process behind."""
    cohort = {"a_kill_parent": ("kill_parent", False), "b_kill_workers": ("kill_workers", False),
              "c_leftover": ("leftover", False), "d_honest": (None, False), "e_honest": (None, False)}
    report = hostile.run_cohort(tmp_path, cohort, "process")
    results = report["results"]
    assert set(results) == set(cohort) and not report["errors"]
    assert results["d_honest"]["score"] == results["e_honest"]["score"] == FULL
    assert results["c_leftover"]["score"] == FULL and report["leftovers"] == []
    level = results["d_honest"]["isolation"]
    assert level.startswith("process only")
    if "unprivileged uid" in level:  # its own uid: the kills are refused, and it is graded as usual
        assert results["a_kill_parent"]["score"] == results["b_kill_workers"]["score"] == FULL
        return
    # The cell that killed its zygote is the one blamed, every time, and skipped on a fresh
    # start; the parts are graded without it (before, the cell often ended before its zygote
    # died, and the crash fell on whichever check ran next).
    killer = results["a_kill_parent"]
    assert killer["status"] == R.CRASHED and killer["score"] == FULL and killer["problems"] == []
    assert [error["message"] for error in killer["cell_errors"]] == [
        "it killed the process that started it (the grader's zygote), and died with it"]
    assert results["b_kill_workers"]["status"] == R.CRASHED
    assert "killed the grading worker twice" in results["b_kill_workers"]["problems"][0]


def test_process_level_refuses_a_forged_gradebook(tmp_path):
    """Where learner code can reach the gradebook, a planted trigger is found and the run refused."""
    report = hostile.run_cohort(tmp_path, {"a_forge": ("forge", True)}, "process")
    assert report["tampered"] and "trigger 'forged'" in report["tampered"]


def test_nothing_outlives_a_killed_grader(tmp_path):
    """``kill -9`` of ``grader grade`` while learner code runs: the workers, zygotes, children
    and anything learner code started are all gone within seconds, not at their time limits."""
    targets = hostile.Targets(hostile.new_token(), tmp_path / "submitted", tmp_path / "out", 0, os.getpid())
    busy = f'import subprocess\nsubprocess.Popen(["sh", "-c", "sleep 120; : {targets.token}"])\nwhile True:\n    pass\n'
    path = targets.submissions / "a_busy" / "sample" / "00_sample.ipynb"
    path.parent.mkdir(parents=True)
    raw = json.loads(hostile.SAMPLE_SOLUTION.read_text())
    raw["cells"].insert(2, {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                            "source": busy})
    path.write_text(json.dumps(raw))
    grader = subprocess.Popen([sys.executable, "-m", "grader", "grade", str(targets.submissions), "--out",
                               str(targets.out), "--jobs", "1", "--cell-timeout", "120", "--timeout", "300"],
                              cwd=hostile.ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        assert _within(90, lambda: hostile.leftover_processes(targets.token)), "learner code never started"
        os.kill(grader.pid, signal.SIGKILL)
        assert _within(15, lambda: not hostile.leftover_processes(targets.token)), (
            hostile.leftover_processes(targets.token))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(grader.pid, signal.SIGKILL)
        grader.wait()


def _within(seconds: float, condition) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False
