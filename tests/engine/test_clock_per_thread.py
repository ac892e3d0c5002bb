"""Virtual time belongs to the thread or task that sleeps (issue 8).

With one clock shared by every thread, an innocent background thread that sleeps in a
loop cost the API-hygiene solution 7 of 16 points ("slept 103495 s"), a semaphore
solution that sleeps before each request lost api-concurrency (the SDK's timeouts fired
because another task's sleep moved the loop's clock), and ``wait_for(..., 5)`` fired
after 2 ms. Each case is pinned here in the workspace, through ``grade_notebook`` on
variants of the solution, and through ``check()`` as in Jupyter.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader.engine import clock
from grader.engine import result as R
from grader.engine.grade import grade_notebook
from grader.engine.remote import Learner
from grader.engine.session import Limits
from grader.engine.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "01_api_hygiene.ipynb"
LIMITS = Limits(cell_seconds=10, notebook_seconds=90, call_seconds=5, memory_mb=1024)
FULL = {"api-client": 2, "api-retry": 4, "api-cost": 3, "api-cache": 2, "api-concurrency": 3, "api-logging": 2}
real_clock = clock._real_perf_counter

BACKGROUND_THREAD = ("\nimport threading\n\ndef _heartbeat():\n    while True:\n        time.sleep(5)\n\n"
                     "threading.Thread(target=_heartbeat, daemon=True).start()\n")
SEMAPHORE = "        async with semaphore:\n            try:"
# The issue saw it with 3 s (when two sleeps fell inside one request's flight); 30 s moves a
# shared clock past the SDK's 5 s timeout at every sleep, so the old failure is certain.
SLEEP_FIRST = "        async with semaphore:\n            await asyncio.sleep(30)\n            try:"


def variant(tmp_path: Path, name: str, cell: str, change) -> Path:
    raw = json.loads(SOLUTION.read_text())
    [target] = [c for c in raw["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == cell]
    source = "".join(target["source"])
    target["source"] = change(source)
    assert target["source"] != source, f"{name}: the solution changed; update the variant"
    path = tmp_path / f"{name}.ipynb"
    path.write_text(json.dumps(raw))
    return path


VARIANTS = {
    "background_thread": ("api-retry-code", lambda source: source + BACKGROUND_THREAD),
    "sleep_before_each_request": ("api-concurrency-code", lambda source: source.replace(SEMAPHORE, SLEEP_FIRST)),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    directory = tmp_path_factory.mktemp("clock")
    with ThreadPoolExecutor(2) as pool:
        futures = {name: pool.submit(grade_notebook, variant(directory, name, *change), limits=LIMITS)
                   for name, change in VARIANTS.items()}
        yield {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", VARIANTS)
def test_correct_code_with_its_own_sleeping_gets_full_marks(graded, name):
    result = graded[name]
    assert result.status == R.GRADED and not result.cell_errors, (result.status, result.cell_errors)
    assert {part.id: part.points for part in result.parts} == FULL, [
        part.feedback for part in result.parts if part.points < part.max_points]


def namespace_of(source: str) -> dict:
    namespace = {"__name__": "__main__"}
    exec(compile(source, "<cell 1>", "exec"), namespace)
    return namespace


def test_a_sleep_in_one_task_does_not_fire_another_tasks_wait_for():
    clock.install()
    nb = Learner(Workspace(namespace_of("""
import asyncio, threading

async def race():
    loop = asyncio.get_running_loop()

    async def sleeper():
        for _ in range(10):
            await asyncio.sleep(10)

    async def waiter():  # an answer that takes 0.2 s of real time, like a reply from a server
        return await asyncio.wait_for(asyncio.to_thread(threading.Event().wait, 0.2), 5)

    return (await asyncio.gather(sleeper(), waiter()))[1]
""")).run)
    assert nb.race() is False, "wait_for(..., 5) fired because another task slept 100 virtual seconds"
    assert nb.last.sleeps == [10] * 10


def test_threads_started_by_a_call_share_its_record_and_inherit_its_time():
    clock.install()
    nb = Learner(Workspace(namespace_of("""
import threading, time

def fan_out():
    time.sleep(7)
    seen = []
    def worker():
        seen.append(time.monotonic() - start)
        time.sleep(2)
    start = time.monotonic() - 7
    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return min(seen)
""")).run)
    started = real_clock()
    assert nb.fan_out() >= 7, "a thread starts at its creator's virtual time"
    assert sorted(nb.last.sleeps) == [2, 2, 2, 7]
    assert real_clock() - started < 1


def test_a_thread_running_before_the_call_keeps_real_time_in_the_grading_child():
    clock.install()
    stop, slept = threading.Event(), []

    def background():  # started by a learner's cell, before any check
        while not stop.is_set():
            started = real_clock()
            time.sleep(0.02)
            slept.append(real_clock() - started)

    thread = threading.Thread(target=background, daemon=True)
    thread.start()
    nb = Learner(Workspace(namespace_of(
        "import threading, time\ndef wait():\n    time.sleep(100)\n    threading.Event().wait(0.2)\n"
        "    return 'done'\n")).run)
    assert nb.wait() == "done"
    time.sleep(0.1)
    stop.set()
    thread.join()
    assert nb.last.sleeps == [100], "only the calling thread's sleeps belong to the call"
    assert slept and min(slept) >= 0.019, "the background thread slept for real"


def test_in_jupyter_check_gives_full_marks_despite_a_background_thread_and_early_sleeps(capsys):
    from grader.engine.live import check
    from tests.exercises.test_api_hygiene import run_answer_cells

    clock.install()
    namespace = run_answer_cells(SOLUTION)
    exec(compile(BACKGROUND_THREAD, "<cell 9>", "exec"), namespace)
    exec(compile(VARIANTS["sleep_before_each_request"][1](_cell_source("api-concurrency-code")), "<cell 10>",
                 "exec"), namespace)
    assert check("api-retry", namespace=namespace) == FULL["api-retry"], capsys.readouterr().out
    assert check("api-concurrency", namespace=namespace) == FULL["api-concurrency"], capsys.readouterr().out


def _cell_source(grade_id: str) -> str:
    raw = json.loads(SOLUTION.read_text())
    [cell] = [c for c in raw["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id]
    return "".join(cell["source"])


def test_after_a_call_the_callers_clocks_read_real_time_again():
    clock.install()
    nb = Learner(Workspace(namespace_of("import time\ndef nap():\n    time.sleep(3600)\n")).run)
    nb.nap()
    assert abs(time.time() - clock._real_time()) < 1, "in Jupyter, time.time() stays the wall clock after check()"
