"""Learner code that hangs or dies while the checks run costs only the part being checked:
the notebook is started again for the parts after it, and the status says what happened.
Also: the last copy of an answer cell is the answer, and a forked child has the same memory
budget as a spawned one."""

from __future__ import annotations

import socket

import pytest

from grader.engine import result as R
from grader.engine.grade import grade_notebook
from grader.engine.session import Limits, SpawnLauncher
from grader.engine.zygote import ZygoteLauncher

FAST = Limits(cell_seconds=3, notebook_seconds=60, call_seconds=2, memory_mb=512)
MEAN = "sample-mean-code"
SOLUTION_MEAN = "def mean(values):\n    return sum(values) / len(values) if values else 0.0\n"


@pytest.fixture(scope="module")
def zygote():
    with ZygoteLauncher() as launcher:
        yield launcher


def points(result: R.Result) -> dict[str, float]:
    return {part.id: part.points for part in result.parts}


@pytest.mark.parametrize(("body", "status", "said"), [
    # A hang the time limit cannot interrupt (the learner blocked SIGALRM): the grader kills it.
    ("    import signal\n    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\n    while True:\n"
     "        pass\n", R.TIMED_OUT, "did not return within 2 s"),
    ("    import os\n    os._exit(3)\n", R.CRASHED, "exited with code 3"),
])
def test_a_child_lost_during_one_part_is_restarted_for_the_next(zygote, sample_variant, body, status, said):
    result = grade_notebook(sample_variant({MEAN: "def mean(values):\n" + body}), limits=FAST, launcher=zygote)
    assert points(result) == {"sample-mean": 0, "sample-ask": 2}, [part.feedback for part in result.parts]
    assert result.status == status
    assert any("sample-mean" in problem and said in problem and "started again" in problem
               for problem in result.problems), result.problems


def test_the_last_copy_of_an_answer_cell_is_the_answer(zygote, sample_variant):
    broken_copy = (3, "def mean(values):\n    return sum(values) / len(value)\n\nmean([1])\n")

    def duplicate_grade_id(raw):
        raw["cells"][3]["metadata"] = dict(raw["cells"][4]["metadata"])  # a copied cell keeps its metadata

    path = sample_variant(extra_cells=[broken_copy], mutate=duplicate_grade_id)
    result = grade_notebook(path, limits=FAST, launcher=zygote)
    assert result.score == 3, [part.feedback for part in result.parts]


MEASURE = ("import os\nchunks, held = 0, []\ntry:\n    while chunks < 4096:\n"
           "        held.append(bytearray(8 << 20))\n        chunks += 1\nexcept MemoryError:\n    pass\n"
           "held.clear()\nos.write(1, f'ALLOCATED {chunks * 8}\\n'.encode())\n")


def allocated_mb(result: R.Result) -> int:
    return next(int(line.split()[1]) for line in result.output.splitlines() if line.startswith("ALLOCATED"))


def test_forked_and_spawned_children_have_the_same_memory_budget(zygote, sample_variant):
    path = sample_variant(extra_cells=[(2, MEASURE)])
    limits = Limits(cell_seconds=30, notebook_seconds=60, call_seconds=2, memory_mb=256)
    forked = allocated_mb(grade_notebook(path, limits=limits, launcher=zygote))
    spawned = allocated_mb(grade_notebook(path, limits=limits, launcher=SpawnLauncher()))
    assert 128 <= forked <= 256 and abs(forked - spawned) <= 32, (forked, spawned)


def test_a_zygote_never_answers_one_child_with_another_childs_exit(zygote):
    first_parent, first_child = socket.socketpair()
    first = zygote.launch(first_child, __import__("pathlib").Path("/tmp"), {"PATH": "/usr/bin"})
    first_parent.close()  # the child reads EOF and exits; nobody collects its exit code
    second_parent, second_child = socket.socketpair()
    second = zygote.launch(second_child, __import__("pathlib").Path("/tmp"), {"PATH": "/usr/bin"})
    second_parent.close()
    assert second.pid != first.pid and second.wait(timeout=10) is not None
    assert first.wait(timeout=10) is not None
