"""Every exercise in the kit: solution full marks, exercise zero, checks and notebook agree.

New exercises are picked up from solutions/ automatically; nothing here names one.
"""

from pathlib import Path

import pytest

from grader.engine import result as R
from grader.engine.checks import known_exercises, load_checks
from grader.engine.grade import grade_notebook
from grader.engine.notebook import read_notebook
from grader.engine.zygote import ZygoteLauncher

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))


@pytest.fixture(scope="module")
def zygote():
    with ZygoteLauncher() as launcher:
        yield launcher


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda path: path.stem)
def test_solution_full_marks_and_exercise_zero(solution, zygote):
    solved = grade_notebook(solution, launcher=zygote)
    assert solved.status == R.GRADED, solved.problems
    assert solved.max_score > 0 and solved.score == solved.max_score, [p.feedback for p in solved.parts]
    blank = grade_notebook(ROOT / "exercises" / solution.name, launcher=zygote)
    assert blank.status == R.GRADED and blank.score == 0
    outcomes = {check.outcome for part in blank.parts for check in part.checks}
    assert R.CHECK_ERROR not in outcomes, "a blank exercise must fail the learner's code, not the checks"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda path: path.stem)
def test_every_graded_part_has_checks_and_every_check_a_part(solution):
    notebook = read_notebook(solution)
    parts = {part.part_id for part in notebook.parts()}
    checks = load_checks(notebook.exercise)
    assert parts == set(checks), "grade cells and @part checks must name the same parts"
    for part in notebook.parts():
        assert part.points > 0, f"{part.part_id} is worth no points"
        assert part.grade_cell.source.strip() == f'check("{part.part_id}")'


def test_exercise_names_and_part_ids_are_unique_across_the_kit():
    exercises = [read_notebook(path).exercise for path in SOLUTIONS]
    assert len(exercises) == len(set(exercises))
    assert set(exercises) == set(known_exercises()), "every checks module has a notebook and vice versa"
    part_ids = [part for exercise in exercises for part in load_checks(exercise)]
    assert len(part_ids) == len(set(part_ids)), "check('part') must find one part whichever notebook calls it"


def test_checks_read_the_same_under_pytest():
    """pytest rewrites the asserts of an installed plugin's package (the kit's pytest plugin makes
    `grader` one), which would append its own diff, with values from this run, to every message."""
    import importlib
    import inspect

    for exercise in ["__init__", *known_exercises()]:
        module = importlib.import_module("grader.checks" + ("" if exercise == "__init__" else f".{exercise}"))
        assert "PYTEST_DONT_REWRITE" in (inspect.getdoc(module) or ""), f"add PYTEST_DONT_REWRITE to {module.__name__}"
