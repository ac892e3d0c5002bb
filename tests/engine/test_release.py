"""solutions/ -> exercises/: solutions stripped, outputs cleared, locked cells kept."""

import json
import shutil
from pathlib import Path

from grader.engine.notebook import read_notebook
from grader.engine.release import release, strip_solution

ROOT = Path(__file__).resolve().parents[2]


def test_strip_keeps_code_around_the_markers_and_indents_the_stub():
    source = "def f(x):\n    '''doc'''\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n\nprint(1)"
    assert strip_solution(source, "code") == (
        "def f(x):\n    '''doc'''\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\nprint(1)")
    assert strip_solution("x = 1", "code") == "# YOUR CODE HERE\nraise NotImplementedError()"
    assert strip_solution("my answer", "markdown") == "YOUR ANSWER HERE"


def test_committed_exercises_are_up_to_date():
    assert release(ROOT, check_only=True) == []


def test_release_check_names_the_stale_file(tmp_path):
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")
    names = sorted(path.name for path in (ROOT / "solutions").glob("*.ipynb"))
    assert release(tmp_path, check_only=True) == [str(tmp_path / "exercises" / name) for name in names]
    written = release(tmp_path)
    assert written and release(tmp_path, check_only=True) == []
    target = Path(written[0])
    target.write_text(target.read_text().replace("YOUR CODE HERE", "edited"))
    assert release(tmp_path, check_only=True) == [str(target)]


def test_released_notebooks_have_no_solutions_or_outputs():
    for path in (ROOT / "exercises").glob("*.ipynb"):
        text = path.read_text()
        assert "BEGIN SOLUTION" not in text
        notebook = read_notebook(path)
        solution = read_notebook(ROOT / "solutions" / path.name)
        for cell, source_cell in zip(notebook.cells, solution.cells, strict=True):
            assert cell.grade_id == source_cell.grade_id
            if source_cell.is_locked:
                assert cell.source == source_cell.source
            if cell.is_grade or cell.is_locked or cell.is_solution:
                assert cell.nbgrader["checksum"] == cell.checksum()
        raw = json.loads(text)
        assert all(c.get("outputs", []) == [] for c in raw["cells"])
