"""Read notebooks as plain JSON and find their graded parts.

``nbformat`` is deliberately not used here: importing it costs about a second (its
jsonschema format checkers), which would dominate a whole grading run. We check the few
structural facts grading relies on and report anything else as a precise error.
"""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class InvalidNotebook(Exception):
    """The file cannot be graded as a notebook; the message names the file and the fix."""


@dataclass(frozen=True)
class Cell:
    index: int
    cell_type: str
    source: str
    metadata: dict[str, Any]
    cell_id: str | None = None

    @property
    def nbgrader(self) -> dict[str, Any]:
        meta = self.metadata.get("nbgrader")
        return meta if isinstance(meta, dict) else {}

    @property
    def grade_id(self) -> str | None:
        value = self.nbgrader.get("grade_id")
        return value if isinstance(value, str) else None

    @property
    def is_grade(self) -> bool:
        return bool(self.nbgrader.get("grade"))

    @property
    def is_solution(self) -> bool:
        return bool(self.nbgrader.get("solution"))

    @property
    def is_locked(self) -> bool:
        return bool(self.nbgrader.get("locked"))

    @property
    def points(self) -> float:
        try:
            return float(self.nbgrader.get("points", 0) or 0)
        except (TypeError, ValueError):
            return 0.0

    @property
    def label(self) -> str:
        """How feedback names the cell: its grade_id when it has one, else its position."""
        number = f"cell {self.index + 1}"
        return f"{number} ('{self.grade_id}')" if self.grade_id else number

    def checksum(self) -> str:
        """nbgrader's checksum (``nbgrader.utils.compute_checksum``), so both tools agree."""
        digest = hashlib.md5()
        for piece in (self.source, self.cell_type, str(self.is_grade), str(self.is_solution),
                      str(self.is_locked), self.grade_id or ""):
            digest.update(piece.encode("utf-8"))
        if self.is_grade:
            digest.update(str(self.points).encode("utf-8"))
        return digest.hexdigest()


@dataclass(frozen=True)
class Part:
    """A graded part: one grade cell and the solution cells the learner fills in for it."""

    part_id: str
    points: float
    grade_cell: Cell
    solution_cells: tuple[Cell, ...]


@dataclass
class Notebook:
    path: Path
    raw: dict[str, Any]
    cells: list[Cell] = field(default_factory=list)

    @property
    def exercise(self) -> str | None:
        """The exercise named in the notebook's metadata (``grader.exercise``)."""
        meta = self.raw.get("metadata", {}).get("grader", {})
        value = meta.get("exercise") if isinstance(meta, dict) else None
        return value if isinstance(value, str) else None

    @property
    def code_cells(self) -> list[Cell]:
        return [cell for cell in self.cells if cell.cell_type == "code"]

    def cells_with_grade_id(self, grade_id: str) -> list[Cell]:
        return [cell for cell in self.cells if cell.grade_id == grade_id]

    def cell_defining(self, name: str) -> Cell | None:
        """The code cell whose top level defines *name* (def, class, assignment or import)."""
        for cell in self.code_cells:
            if name in _top_level_names(cell.source):
                return cell
        return None

    def parts(self) -> list[Part]:
        """Grade cells in order, each with the solution cells since the previous grade cell."""
        parts: list[Part] = []
        pending: list[Cell] = []
        for cell in self.cells:
            if cell.is_grade and cell.grade_id:
                parts.append(Part(cell.grade_id, cell.points, cell, tuple(pending)))
                pending = []
            elif cell.is_solution:
                pending.append(cell)
        return parts


def _top_level_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def _source_text(source: Any) -> str | None:
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    return None


def parse_notebook(raw: Any, path: Path) -> Notebook:
    """Check the structure grading relies on and build a :class:`Notebook`."""
    if not isinstance(raw, dict) or ("cells" not in raw and "worksheets" not in raw):
        raise InvalidNotebook(f"{path}: not a Jupyter notebook (no 'cells'); submit the .ipynb file itself")
    major = raw.get("nbformat")
    if major != 4:
        raise InvalidNotebook(
            f"{path}: notebook format {major!r} is not supported; open it in Jupyter and save it "
            "again (that writes format 4)"
        )
    cells_raw = raw.get("cells")
    if not isinstance(cells_raw, list):
        raise InvalidNotebook(f"{path}: 'cells' must be a list; the file is damaged")
    cells = []
    for index, cell in enumerate(cells_raw):
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise InvalidNotebook(f"{path}: cell {index + 1} has no 'cell_type'; the file is damaged")
        source = _source_text(cell.get("source", ""))
        if source is None:
            raise InvalidNotebook(f"{path}: cell {index + 1} has a 'source' that is not text")
        metadata = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        cell_id = cell.get("id") if isinstance(cell.get("id"), str) else None
        cells.append(Cell(index, cell["cell_type"], source, metadata, cell_id))
    return Notebook(path=path, raw=raw, cells=cells)


def read_notebook(path: str | Path) -> Notebook:
    """Load a notebook file, raising :class:`InvalidNotebook` with a one-line reason."""
    path = Path(path)
    if not path.exists():
        raise InvalidNotebook(f"{path}: no such file")
    if path.is_dir():
        raise InvalidNotebook(f"{path}: is a folder; give the path of an .ipynb file")
    data = path.read_bytes()
    if not data.strip():
        raise InvalidNotebook(f"{path}: the file is empty; save the notebook from Jupyter again")
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        if path.suffix != ".ipynb":
            raise InvalidNotebook(f"{path}: not a notebook; give the .ipynb file saved from Jupyter") from None
        raise InvalidNotebook(
            f"{path}: not valid JSON ({error}); a notebook is a JSON file, was it saved from Jupyter?"
        ) from None
    return parse_notebook(raw, path)
