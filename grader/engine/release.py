"""Write the learner notebooks in ``exercises/`` from the source notebooks in ``solutions/``.

The transformation is nbgrader's ``generate_assignment``: code between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes a stub that raises
``NotImplementedError``, outputs are cleared, and graded, locked and answer cells get
nbgrader checksums. Output is byte-stable, so ``--check`` can compare it with what is
committed.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from grader.engine.notebook import Cell, read_notebook

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
MARKDOWN_STUB = "YOUR ANSWER HERE"


def strip_solution(source: str, cell_type: str) -> str:
    if cell_type != "code":
        return MARKDOWN_STUB
    if BEGIN not in source:
        return CODE_STUB
    lines, out, inside = source.split("\n"), [], False
    for line in lines:
        if line.strip() == BEGIN:
            indent = re.match(r"\s*", line).group(0)
            out += [indent + stub_line for stub_line in CODE_STUB.split("\n")]
            inside = True
        elif line.strip() == END:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def release_notebook(source_path: Path) -> str:
    """The released notebook's JSON text for the solution notebook at *source_path*."""
    notebook = read_notebook(source_path)
    raw = copy.deepcopy(notebook.raw)
    for cell_raw, cell in zip(raw["cells"], notebook.cells, strict=True):
        source = strip_solution(cell.source, cell.cell_type) if cell.is_solution else cell.source
        cell_raw["source"] = source.splitlines(keepends=True)
        if cell.cell_type == "code":
            cell_raw["outputs"], cell_raw["execution_count"] = [], None
        if cell.is_solution or cell.is_grade or cell.is_locked:
            released = Cell(cell.index, cell.cell_type, source, cell.metadata, cell.cell_id)
            cell_raw["metadata"]["nbgrader"]["checksum"] = released.checksum()
    return json.dumps(raw, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def release(root: Path, check_only: bool = False) -> list[str]:
    """Write (or, with *check_only*, compare) every exercise; returns the files out of date."""
    solutions, exercises = root / "solutions", root / "exercises"
    stale = []
    for source_path in sorted(solutions.glob("*.ipynb")):
        target = exercises / source_path.name
        text = release_notebook(source_path)
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(str(target))
        if not check_only:
            exercises.mkdir(exist_ok=True)
            target.write_text(text, encoding="utf-8")
    wanted = {path.name for path in solutions.glob("*.ipynb")}
    stale += [str(path) for path in sorted(exercises.glob("*.ipynb")) if path.name not in wanted]
    return stale
