"""Every common mistake of every exercise loses points in exactly its own part, with
feedback that names it (the variants are in ``tests/exercises/mistakes/``), in final
grading and in the quick in-notebook ``check()`` alike.

All the gradings start together on first use and run from warm zygotes, one per core.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from grader.engine import result as R
from grader.engine.grade import grade_notebook
from grader.engine.notebook import read_notebook
from grader.engine.session import Limits
from grader.engine.zygote import ZygoteLauncher
from tests.exercises import mistakes

LIMITS = Limits(cell_seconds=10, notebook_seconds=60, call_seconds=5, memory_mb=1024)
CASES = [(exercise, name) for exercise in mistakes.exercises() for name in sorted(mistakes.load(exercise))]
MODES = ("final", "quick")


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[tuple[str, str], Future]:
    directory = tmp_path_factory.mktemp("mistakes")
    local = threading.local()
    launchers: list[ZygoteLauncher] = []

    def grade(path, mode):
        if not hasattr(local, "launcher"):
            local.launcher = ZygoteLauncher()
            launchers.append(local.launcher)
        return grade_notebook(path, limits=LIMITS, launcher=local.launcher, quick=mode == "quick")

    pool = ThreadPoolExecutor(max(os.cpu_count() or 1, 2))
    paths = {case: mistakes.write_variant(directory, *case) for case in CASES}
    futures = {(*case, mode): pool.submit(grade, paths[case], mode) for case in CASES for mode in MODES}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)
    for launcher in launchers:
        launcher.close()


def test_every_exercise_with_a_solution_has_mistakes():
    exercises = {read_notebook(path).exercise for path in (mistakes.ROOT / "solutions").glob("*.ipynb")}
    assert exercises - {"sample"} <= set(mistakes.exercises()), "add tests/exercises/mistakes/<exercise>.py"


@pytest.mark.parametrize("exercise,name,mode", [(e, n, m) for e, n in CASES for m in MODES],
                         ids=[f"{e}-{n}-{m}" for e, n in CASES for m in MODES])
def test_mistake_loses_points_only_in_its_part(graded, exercise, name, mode):
    mistake = mistakes.load(exercise)[name]
    full = {part.part_id: part.points for part in read_notebook(mistakes.solution_path(exercise)).parts()}
    assert mistake.part in full, f"{name}: no part {mistake.part!r} in {exercise}"
    result = graded[(exercise, name, mode)].result()
    assert result.status == R.GRADED and not result.cell_errors, (result.status, result.cell_errors)
    got = {part.id: part.points for part in result.parts}
    assert got[mistake.part] < full[mistake.part], f"{name} was not caught by the {mode} check"
    others = {part: value for part, value in got.items() if part != mistake.part}
    assert others == {part: value for part, value in full.items() if part != mistake.part}, (
        f"{name} also cost points elsewhere: {others}")
    feedback = "\n".join(next(part for part in result.parts if part.id == mistake.part).feedback)
    assert mistake.feedback in feedback, feedback
    checks = [check for part in result.parts for check in part.checks]
    assert not [c for c in checks if c.outcome == R.CHECK_ERROR], "a check crashed on a wrong answer"
