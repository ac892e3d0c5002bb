"""Grade several notebooks and folders in one go, from one warm zygote, and total them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.engine import result as R
from grader.engine.session import Limits

SKIPPED_FOLDERS = frozenset({".ipynb_checkpoints", ".git", ".venv", "venv", "node_modules", "__pycache__"})


def notebooks_in(paths: Iterable[str | Path], *, every_notebook: bool = False) -> list[Path]:
    """Each path as given when it is a file (a non-notebook is graded as unusable, never
    dropped); from a folder, recursively and outside hidden and tool folders, the notebooks
    that name a kit exercise (or are not even JSON), so a learner's own scratch notebooks do
    not fail the run; with *every_notebook*, all of them (a platform's submission folder)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            found.append(path)
            continue
        for notebook in sorted(path.rglob("*.ipynb")):
            folders = notebook.relative_to(path).parts[:-1]
            if any(part in SKIPPED_FOLDERS or part.startswith(".") for part in folders):
                continue
            if every_notebook or names_an_exercise(notebook):
                found.append(notebook)
    return list(dict.fromkeys(found))


def names_an_exercise(path: Path) -> bool:
    """Whether a notebook's metadata names a kit exercise; a file that is not a notebook at all
    counts, so that it is reported rather than silently skipped."""
    try:
        return "grader" in json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return True


@dataclass
class Report:
    """The results of one run, in the order graded, and their totals."""

    results: list[R.Result]

    @property
    def score(self) -> float:
        return round(sum(result.score for result in self.results), 4)

    @property
    def max_score(self) -> float:
        return round(sum(result.max_score for result in self.results), 4)

    @property
    def unusable(self) -> list[R.Result]:
        return [result for result in self.results if result.status == R.INVALID]

    def percent(self) -> float:
        return 100.0 * self.score / self.max_score if self.max_score else 0.0

    def passes(self, pass_mark: float) -> bool:
        """At least *pass_mark* percent of the points (100: full marks), and something to score."""
        return self.max_score > 0 and self.percent() >= pass_mark - 1e-9

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "max_score": self.max_score,
                "notebooks": [result.to_dict() for result in self.results]}


@contextlib.contextmanager
def warm_launcher(count: int) -> Iterator[Any]:
    """A zygote when more than one notebook will be graded (each then skips the SDK imports);
    ``None`` for one, where starting a zygote would cost as much as it saves."""
    if count < 2:
        yield None
        return
    from grader.engine.zygote import ZygoteLauncher

    with ZygoteLauncher() as launcher:
        yield launcher


def grade_paths(paths: Iterable[str | Path], *, limits: Limits | None = None, seed: int | None = None,
                exercise: str | None = None, every_notebook: bool = False) -> Report:
    """Grade every notebook in *paths* (see :func:`notebooks_in`); *exercise* is assumed for a
    notebook that names none (as ``grade_notebook`` does)."""
    from grader.engine.grade import grade_notebook

    notebooks = notebooks_in(paths, every_notebook=every_notebook)
    with warm_launcher(len(notebooks)) as launcher:
        return Report([grade_notebook(path, exercise=exercise, limits=limits, seed=seed, launcher=launcher)
                       for path in notebooks])
