"""The API-hygiene notebook: full marks for the solution part by part, zero for the exercise,
and the in-notebook check. Its common mistakes are graded by ``test_mistakes.py`` from
``mistakes/api_hygiene.py``; ``tests/test_every_exercise.py`` renders it to HTML.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from grader.engine import result as R
from grader.engine.grade import grade_notebook
from grader.engine.notebook import read_notebook
from grader.engine.session import Limits

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "01_api_hygiene.ipynb"
EXERCISE = ROOT / "exercises" / "01_api_hygiene.ipynb"
LIMITS = Limits(cell_seconds=10, notebook_seconds=60, call_seconds=5, memory_mb=1024)
PARTS = {"api-client": 2, "api-retry": 4, "api-cost": 3, "api-cache": 2, "api-concurrency": 3, "api-logging": 2}


@pytest.fixture(scope="module")
def graded() -> dict[str, Future]:
    """Both gradings, started at once."""
    paths = {"solution": SOLUTION, "exercise": EXERCISE}
    pool = ThreadPoolExecutor(2)
    futures = {name: pool.submit(grade_notebook, path, limits=LIMITS) for name, path in paths.items()}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


def points(result: R.Result) -> dict[str, float]:
    return {part.id: part.points for part in result.parts}


def test_solution_gets_full_marks(graded):
    result = graded["solution"].result()
    assert result.status == R.GRADED and not result.cell_errors
    assert points(result) == PARTS, [part.feedback for part in result.parts if part.points < part.max_points]
    assert result.score == result.max_score == sum(PARTS.values())


def test_exercise_gets_zero_without_grader_errors(graded):
    result = graded["exercise"].result()
    assert result.status == R.GRADED and not result.cell_errors
    assert result.score == 0 and result.max_score == sum(PARTS.values())
    outcomes = [check for part in result.parts for check in part.checks]
    assert not [c for c in outcomes if c.outcome == R.CHECK_ERROR]
    assert all("Not answered yet" in part.feedback[0] for part in result.parts)


def run_answer_cells(path: Path) -> dict:
    """The namespace a kernel has after running the answer cells and the locked helper cells
    (not the setup cell, which would start a stub and set environment variables here)."""
    namespace = {"__name__": "__main__"}
    for cell in json.loads(path.read_text())["cells"]:
        grade_id = cell["metadata"]["nbgrader"]["grade_id"]
        if cell["cell_type"] == "code" and (grade_id.endswith("-code") or grade_id.endswith("-setup")) \
                and grade_id != "api-setup":
            exec(compile("".join(cell["source"]), f"<{grade_id}>", "exec"), namespace)
    return namespace


def test_live_check_of_the_retry_part_gives_full_points(capsys):
    """Its speed (well under a second) is measured by benchmarks/bench_check.py, not asserted here."""
    from grader.engine.clock import install
    from grader.engine.live import check

    install()  # what importing grader does in a kernel: sleeps become virtual while a check runs
    namespace = run_answer_cells(SOLUTION)
    check("api-client", namespace=namespace)  # warm-up: starts the kernel's stub once
    assert check("api-retry", namespace=namespace) == PARTS["api-retry"], capsys.readouterr().out
    assert "api-retry" in capsys.readouterr().out


# What learners had to guess (issue 17): how to recognise insufficient_quota, what `estimate` counts
# and how it rounds, the type of latency_ms, and that settings are stripped (once said only in a hint).
GRADED_RULES = {
    "api-client-intro": ["**stripped**"],
    "api-retry-intro": ['`error.code == "insufficient_quota"`'],
    "api-cost-intro": ["roles are not counted", "list of content parts", "round **up** (`math.ceil`)"],
    "api-logging-intro": ["`latency_ms`", "a number (`int` or `float`", "not seconds"],
}


def test_what_is_graded_is_said_in_the_parts_text():
    text = {cell.grade_id: cell.source for cell in read_notebook(EXERCISE).cells if cell.cell_type == "markdown"}
    for cell, phrases in GRADED_RULES.items():
        missing = [phrase for phrase in phrases if phrase not in text[cell]]
        assert not missing, f"the learner's notebook no longer says {missing} in {cell}"
