"""`grader grade --scheduler` on a local Dask cluster of several worker processes."""

import sqlite3
import subprocess
import sys

import pytest

distributed = pytest.importorskip("dask.distributed", reason="Dask is an optional extra: pip install -e '.[cluster]'")


def test_grades_on_a_local_cluster_of_worker_processes(batch, tmp_path):
    submissions = batch(6)
    out = tmp_path / "out"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster:
        run = subprocess.run(
            [sys.executable, "-m", "grader", "grade", str(submissions), "--out", str(out),
             "--scheduler", cluster.scheduler_address, "--cell-timeout", "3"],
            capture_output=True, text=True, timeout=300)
        with distributed.Client(cluster) as client:
            transitions = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)
    assert run.returncode == 0, run.stderr[-2000:]
    assert transitions >= 6 * 3, "every submission went through the cluster's scheduler"
    with sqlite3.connect(out / "gradebook.sqlite") as book:
        rows = book.execute("SELECT learner, status FROM results").fetchall()
    assert len(rows) == 6 and len({learner for learner, _ in rows}) == 6
    assert {status for _, status in rows} == {"graded"}


def test_an_unreachable_scheduler_is_a_clear_error(batch, tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(batch(1)), "--out", str(tmp_path / "out"),
         "--scheduler", "tcp://127.0.0.1:9"], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "127.0.0.1:9" in run.stderr and "Traceback" not in run.stderr


def test_a_refused_connection_is_reported_without_waiting_for_the_timeout():
    """Nothing listening (a mistyped port) is known at once; only a silent host waits out Dask's timeout."""
    from grader.batch.workers import _refuse_early

    with pytest.raises(ConnectionRefusedError):
        _refuse_early("tcp://127.0.0.1:9")
    with pytest.raises(ConnectionRefusedError):
        _refuse_early("127.0.0.1:9")
    _refuse_early("tls://127.0.0.1:9")  # other transports are Dask's to try
