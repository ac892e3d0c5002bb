"""Instructors who already use nbgrader can keep using it on our notebooks.

The exercises are shared out among one nbgrader course per core, built at the same time by
``nbgrader_course.py`` (every assignment generated once, every submission autograded once); each
exercise's test then asserts on its own assignment.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
COURSE = Path(__file__).with_name("nbgrader_course.py")

pytestmark = pytest.mark.slow


def sources(path):
    return [("".join(c["source"]), c["cell_type"]) for c in json.loads(Path(path).read_text())["cells"]]


@pytest.fixture(scope="module")
def courses(tmp_path_factory) -> dict[str, tuple[Path, dict, str]]:
    """By exercise: the course directory that holds it, nbgrader's result of each step, and its log."""
    pytest.importorskip("nbgrader", reason="nbgrader comes with the dev extras (pip install -e '.[dev]')")
    cores = os.cpu_count() or 1
    shares = [SOLUTIONS[start::cores] for start in range(cores) if SOLUTIONS[start::cores]]
    roots = [tmp_path_factory.mktemp("course") for _ in shares]
    logs = [root.with_suffix(".log") for root in roots]  # files, not pipes: a full pipe would stall a course
    runs = []
    for root, share, log in zip(roots, shares, logs, strict=True):
        with log.open("w") as out:  # the child writes through its own copy of the file
            runs.append(subprocess.Popen([sys.executable, str(COURSE), str(root), *map(str, share)], stdout=out,
                                         stderr=subprocess.STDOUT))
    found = {}
    for root, share, run, log in zip(roots, shares, runs, logs, strict=True):
        run.wait(timeout=1200)
        output = log.read_text()
        results = json.loads((root / "results.json").read_text()) if run.returncode == 0 else {}
        for solution in share:
            found[solution.stem] = root, results, output
    return found


def report(result: dict | None, output: str) -> str:
    if result is None:
        return f"the step never ran:\n{output[-3000:]}"
    return f"{result.get('error', '')[-3000:]}\n{result.get('log', '')[-3000:]}"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_generate_assignment_and_autograde_accept_our_notebooks(courses, solution):
    root, results, output = courses[solution.stem]
    name = solution.stem
    generated = results.get(f"generate_assignment {name}")
    assert generated and generated["success"], report(generated, output)
    released = root / "release" / name / solution.name
    assert sources(released) == sources(ROOT / "exercises" / solution.name), "our release matches nbgrader's"

    graded = results.get(f"autograde {name}")
    assert graded and graded["success"], report(graded, output)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        solver = gradebook.find_submission(name, "solver")
        blank = gradebook.find_submission(name, "blank")
        assert solver.max_score > 0 and solver.score == solver.max_score
        assert blank.score == 0
        if name == "00_sample":
            partial = gradebook.find_submission(name, "partial")
            assert 0 < partial.score < partial.max_score, (partial.score, partial.max_score)
        assert gradebook.find_submission(name, "cheater").score == 0, "setting GRADER_CHILD earns nothing"
