"""Children forked from a warm zygote are graded exactly like freshly spawned ones."""

import dataclasses
import os
import signal
from pathlib import Path

import pytest

from grader.engine import result as R
from grader.engine.grade import grade_notebook
from grader.engine.session import Limits
from grader.engine.zygote import ZygoteLauncher

ROOT = Path(__file__).resolve().parents[2]
FAST = Limits(cell_seconds=3, notebook_seconds=30, call_seconds=3, memory_mb=1024)


@pytest.fixture(scope="module")
def zygote():
    with ZygoteLauncher() as launcher:
        yield launcher


def grade(path, zygote):
    return grade_notebook(path, limits=FAST, launcher=zygote)


def test_solution_and_exercise(zygote):
    assert grade(ROOT / "solutions" / "00_sample.ipynb", zygote).score == 3
    assert grade(ROOT / "exercises" / "00_sample.ipynb", zygote).score == 0


@pytest.mark.parametrize(("source", "status", "expected"), [
    ("import os\nos._exit(7)\n", R.CRASHED, "exited with code 7"),
    ("import ctypes\nctypes.string_at(0)\n", R.CRASHED, "segmentation fault"),
    ("while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass\n",
     R.TIMED_OUT, "ran longer than its 3 s limit"),  # stopped in place (engine/deadline.py), not killed
    ("hog = bytearray(4 * 1024**3)\n", R.MEMORY_LIMIT, "MemoryError"),
])
def test_broken_notebooks(zygote, sample_variant, source, status, expected):
    result = grade(sample_variant({"sample-mean-code": source}), zygote)
    assert result.status == status
    mean = next(part for part in result.parts if part.id == "sample-mean")
    assert expected in mean.feedback[0]
    assert result.score == 2, "the other part is still graded"


def test_children_share_the_zygotes_tls_context(zygote, sample_variant):
    probe = "import httpcore2\nassert httpcore2.default_ssl_context() is httpcore2.default_ssl_context()\n"
    result = grade(sample_variant(extra_cells=[(2, probe)]), zygote)
    assert result.cell_errors == [] and result.score == 3


def test_each_child_starts_from_the_clean_zygote(zygote, sample_variant):
    polluting = "import openai, os\nopenai.POLLUTED = True\nos.environ['LEFT_BEHIND'] = '1'\n"
    grade(sample_variant(extra_cells=[(2, polluting)]), zygote)
    probe = ("import openai, os\nassert not hasattr(openai, 'POLLUTED')\nassert 'LEFT_BEHIND' not in os.environ\n"
             "assert os.environ['OPENAI_API_KEY'].startswith('sk-stub-')\n")
    result = grade(sample_variant(extra_cells=[(2, probe)]), zygote)
    assert result.cell_errors == [] and result.score == 3


def _signal_the_zygote(zygote, sample_variant, number: signal.Signals, times: int = 3) -> list[R.Result]:
    """Grade, *times* times, the sample solution with a cell that sends its zygote *number*."""
    cell = f"import os, signal\nos.kill(os.getppid(), signal.{number.name})\n"
    reachable = dataclasses.replace(FAST, isolation="process")  # in a PID namespace the zygote is out of reach
    results = [grade_notebook(sample_variant(extra_cells=[(2, cell)]), limits=reachable, launcher=zygote)
               for _ in range(times)]
    if any("unprivileged uid" in result.isolation for result in results):
        pytest.skip("the child runs as a uid of its own here, so the kernel refuses its signal to the zygote")
    return results


def test_a_cell_that_kills_its_zygote_is_the_cell_blamed_every_time(zygote, sample_variant):
    """kill(2) returns before the zygote dies, and the child dies only once it has: the child
    looks before it reports the cell's end, so the crash lands on that cell (skipped on a fresh
    start, the parts graded without it), never on whichever check happened to run next."""
    for result in _signal_the_zygote(zygote, sample_variant, signal.SIGKILL):
        assert (result.status, result.score, result.problems) == (R.CRASHED, 3, [])
        assert [error["message"] for error in result.cell_errors] == [
            "it killed the process that started it (the grader's zygote), and died with it"]


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda n: n.name)
def test_a_zygote_ignores_the_signals_it_can_block(zygote, sample_variant, number):
    """Other fatal signals would be pending as themselves, not as SIGKILL, so the child could
    not see the zygote dying; the zygote blocks them and keeps serving, and its children
    get the usual signal mask back."""
    restarts = zygote.restarts
    for result in _signal_the_zygote(zygote, sample_variant, number):
        assert (result.status, result.score, result.cell_errors) == (R.GRADED, 3, [])
    assert zygote.restarts == restarts


def test_a_stopped_zygote_is_replaced_and_the_notebook_graded(zygote, sample_variant):
    """SIGSTOP cannot be blocked. The child runs on and is graded; the zygote then does not
    report the child's exit, and is killed (not waited for forever, nor left stopped) after
    a few seconds, and the next launch starts another."""
    restarts, stopped = zygote.restarts, zygote._pid
    (result,) = _signal_the_zygote(zygote, sample_variant, signal.SIGSTOP, times=1)
    assert (result.status, result.score, result.cell_errors) == (R.GRADED, 3, [])
    assert not Path(f"/proc/{stopped}").exists(), "the stopped zygote was killed"
    assert grade(ROOT / "solutions" / "00_sample.ipynb", zygote).score == 3
    assert zygote.restarts == restarts + 1


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_a_template_forks_each_workers_zygote_and_is_not_needed_after():
    """A batch imports the heavy modules once, in its template; a zygote forked from it grades like
    any other, and a launcher whose template is gone starts a zygote of its own."""
    from grader.engine.zygote import ZygoteTemplate

    with ZygoteTemplate() as template:
        first, second = ZygoteLauncher(template=template.socket), ZygoteLauncher(template=template.socket)
        assert _parent(first._pid) == _parent(second._pid) == template._process.pid
        with first, second:
            assert grade(ROOT / "solutions" / "00_sample.ipynb", first).score == 3
            assert grade(ROOT / "exercises" / "00_sample.ipynb", second).score == 0
        template._process.kill()
        template._process.wait()
        with ZygoteLauncher(template=template.socket) as orphan:
            assert orphan._process is not None, "started as an interpreter of its own"
            assert grade(ROOT / "solutions" / "00_sample.ipynb", orphan).score == 3


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is a Linux call")
def test_a_launcher_keeps_its_zygote_on_its_cores_after_a_restart():
    """Children inherit their zygote's cores (fork does); a zygote started again after a
    child killed it is placed like the first."""
    core = {max(os.sched_getaffinity(0))}
    with ZygoteLauncher(cpus=core) as launcher:
        assert os.sched_getaffinity(launcher._pid) == core
        first = launcher._pid
        os.kill(first, signal.SIGKILL)
        assert grade(ROOT / "solutions" / "00_sample.ipynb", launcher).score == 3
        assert launcher.restarts == 1 and launcher._pid != first
        assert os.sched_getaffinity(launcher._pid) == core
