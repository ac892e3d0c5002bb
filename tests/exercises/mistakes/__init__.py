"""One deliberately wrong variant of a solution per common mistake, for every exercise.

``tests/exercises/mistakes/<exercise>.py`` defines ``MISTAKES: dict[str, Mistake]``. The
generic test (``tests/exercises/test_mistakes.py``) grades every variant and expects it to
lose points in its own part only, with feedback that contains ``Mistake.feedback``. The
demo cohort and the batch benchmark hand the same variants in as realistic submissions.

They live under ``tests/`` and never in the installed package: a variant is the solution
with one bug, and the package is what learners install.
"""

from __future__ import annotations

import copy
import importlib
import json
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
Notebook = dict[str, Any]


@dataclass(frozen=True)
class Mistake:
    cell: str  # grade_id of the answer cell to change
    find: str  # text that must appear in that cell of the solution
    replace: str  # what it becomes (every occurrence is replaced)
    part: str  # the part that must lose points, and only it
    feedback: str  # words the part's feedback must contain: the mistake named


def exercises() -> list[str]:
    """Exercises that have a mistakes module."""
    return sorted(info.name for info in pkgutil.iter_modules(__path__))


def load(exercise: str) -> dict[str, Mistake]:
    return importlib.import_module(f"{__name__}.{exercise}").MISTAKES


def solution_path(exercise: str) -> Path:
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        if json.loads(path.read_text())["metadata"].get("grader", {}).get("exercise") == exercise:
            return path
    raise LookupError(f"no solution notebook in solutions/ names exercise {exercise!r}")


def apply(solution: Notebook, name: str, mistake: Mistake) -> Notebook:
    """A copy of *solution* with *mistake* planted; fails loudly if the solution moved on."""
    raw = copy.deepcopy(solution)
    cells = [c for c in raw["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == mistake.cell]
    if len(cells) != 1:
        raise LookupError(f"{name}: the solution has {len(cells)} cells with grade_id {mistake.cell!r}")
    source = "".join(cells[0]["source"])
    if mistake.find not in source:
        raise LookupError(f"{name}: the solution cell {mistake.cell!r} no longer contains {mistake.find!r}")
    cells[0]["source"] = source.replace(mistake.find, mistake.replace)
    return raw


def write_variant(directory: Path, exercise: str, name: str) -> Path:
    solution = json.loads(solution_path(exercise).read_text())
    path = directory / f"{exercise}-{name}.ipynb"
    path.write_text(json.dumps(apply(solution, name, load(exercise)[name])))
    return path
