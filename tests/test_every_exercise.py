"""Every exercise in the kit: solution full marks, exercise zero, checks and notebook agree, the
solution renders to HTML and its saved outputs are those of a clean run.

New exercises are picked up from solutions/ automatically; nothing here names one.
"""

import html
import json
import re
import subprocess
import sys
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


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda path: path.stem)
def test_saved_outputs_are_what_a_clean_run_shows(solution):
    """A solution saved with its outputs (the retrieval one keeps its whole-collection figures) shows
    what a run shows today: no error, nothing on stderr, and one result per check() cell (the panel,
    no echo of the points)."""
    cells = json.loads(solution.read_text())["cells"]
    for cell in cells:
        bad = [o for o in cell.get("outputs", []) if o["output_type"] == "error" or o.get("name") == "stderr"]
        assert not bad, f"{cell['metadata'].get('nbgrader', {}).get('grade_id')}: {json.dumps(bad)[:500]}; run it again"
    for part in read_notebook(solution).parts():
        shown = [o["output_type"] for o in cells[part.grade_cell.index].get("outputs", [])]
        assert shown in ([], ["execute_result"]), f"check('{part.part_id}') saved {shown}; run it again"


def _markdown(solution: Path) -> tuple[list[str], int]:
    """The headings (as text) and the number of tables in the notebook's markdown cells."""
    lines = [line for cell in json.loads(solution.read_text())["cells"] if cell["cell_type"] == "markdown"
             for line in "".join(cell["source"]).splitlines()]
    headings = [line.lstrip("#").strip().replace("`", "") for line in lines if line.startswith("#")]
    return headings, sum(1 for line in lines if re.match(r"^\|?\s*:?-{3,}:?\s*\|", line))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess, dict[str, str]]:
    """Every solution rendered by one `jupyter nbconvert --to html` (one interpreter start, not one per
    notebook): the output directory, the run, and each notebook's share of its stderr (what nbconvert
    logged from "Converting notebook <it>" to the next notebook, after anything logged before the first)."""
    out = tmp_path_factory.mktemp("html")
    completed = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--output-dir", str(out), *map(str, SOLUTIONS)],
        capture_output=True, text=True, timeout=300)
    starts = [(match.start(), Path(match.group(1)).name) for match in
              re.finditer(r"^.*Converting notebook (\S+) to html.*$", completed.stderr, flags=re.MULTILINE)]
    preamble = completed.stderr[:starts[0][0]] if starts else completed.stderr
    ends = [start for start, _ in starts[1:]] + [len(completed.stderr)]
    logged = {name: preamble + completed.stderr[start:end] for (start, name), end in zip(starts, ends, strict=True)}
    return out, completed, logged


@pytest.mark.slow
@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda path: path.stem)
def test_solution_renders_to_html_without_errors(solution, rendered):
    out, completed, logged = rendered
    assert completed.returncode == 0, completed.stderr
    assert solution.name in logged, f"nbconvert never converted {solution.name}: {completed.stderr}"
    assert "error" not in logged[solution.name].lower(), logged[solution.name]
    body = re.sub(r"<(style|script)\b.*?</\1>", "", (out / f"{solution.stem}.html").read_text(), flags=re.DOTALL)
    assert "Traceback" not in body and "application/vnd.jupyter.stderr" not in body
    text = html.unescape(re.sub(r"<[^>]+>", "", body))
    headings, tables = _markdown(solution)
    assert headings and all(heading in text for heading in headings), "the markdown did not render"
    assert body.count("<table") >= tables, "a markdown table did not render"
