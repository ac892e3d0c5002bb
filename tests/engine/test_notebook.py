"""Reading notebooks: every kind of bad file gets a one-line error naming it."""

import json

import pytest

from grader.engine.notebook import InvalidNotebook, read_notebook


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


@pytest.mark.parametrize(("content", "expected"), [
    ("", "empty"),
    ("not json at all", "not valid JSON"),
    ({"hello": 1}, "not a Jupyter notebook"),
    ({"nbformat": 3, "worksheets": []}, "format 3 is not supported"),
    ({"nbformat": 4, "cells": "nope"}, "'cells' must be a list"),
    ({"nbformat": 4, "cells": [{"source": "x"}]}, "cell 1 has no 'cell_type'"),
    ({"nbformat": 4, "cells": [{"cell_type": "code", "source": 5}]}, "cell 1 has a 'source' that is not text"),
])
def test_bad_files_name_the_file_and_the_problem(tmp_path, content, expected):
    path = write(tmp_path, "bad.ipynb", content)
    with pytest.raises(InvalidNotebook) as error:
        read_notebook(path)
    assert str(path) in str(error.value)
    assert expected in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InvalidNotebook, match="no such file"):
        read_notebook(tmp_path / "missing.ipynb")
    with pytest.raises(InvalidNotebook, match="is a folder"):
        read_notebook(tmp_path)


def test_parts_group_answer_cells_with_their_grade_cell(tmp_path):
    def cell(grade_id, **flags):
        return {"cell_type": "code", "source": ["x = 1\n", "y = 2"], "metadata": {
            "nbgrader": {"grade_id": grade_id, **flags}}}

    path = write(tmp_path, "nb.ipynb", {"nbformat": 4, "metadata": {"grader": {"exercise": "demo"}}, "cells": [
        cell("a-code", solution=True), cell("a", grade=True, locked=True, points=2),
        cell("b1", solution=True), cell("b2", solution=True), cell("b", grade=True, points="1.5"),
    ]})
    notebook = read_notebook(path)
    assert notebook.exercise == "demo"
    assert notebook.cells[0].source == "x = 1\ny = 2"
    parts = notebook.parts()
    assert [(p.part_id, p.points, [c.grade_id for c in p.solution_cells]) for p in parts] == [
        ("a", 2.0, ["a-code"]), ("b", 1.5, ["b1", "b2"])]


def test_checksum_matches_nbgrader():
    nbformat = pytest.importorskip("nbformat", reason="nbformat comes with the dev extras")
    from nbgrader.utils import compute_checksum

    from grader.engine.notebook import Cell

    meta = {"nbgrader": {"grade_id": "p", "grade": True, "solution": False, "locked": True, "points": 3}}
    ours = Cell(0, "code", "check('p')\n", meta).checksum()
    theirs = compute_checksum(nbformat.v4.new_code_cell("check('p')\n", metadata=meta))
    assert ours == theirs
