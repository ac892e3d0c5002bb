"""Where the kit's notebooks live, and which released notebook is the reference for a submission.

Points and locked cells always come from the released notebook in ``exercises/``, never
from the submission, whose metadata the learner can edit.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from grader.engine.notebook import InvalidNotebook, Notebook, read_notebook

KIT_ROOT = Path(__file__).resolve().parents[2]
# Where a wheel carries the released notebooks and data (written by setup.py at build time).
BUNDLED_COURSE = Path(__file__).resolve().parents[1] / "_course"


def course_root() -> Path:
    """The folder holding ``exercises/`` and ``datasets/`` (and, in a checkout, ``solutions/``):
    $GRADER_COURSE_DIR, else the checkout the kit runs from, else the course inside the package."""
    if "GRADER_COURSE_DIR" in os.environ:
        return Path(os.environ["GRADER_COURSE_DIR"])
    return KIT_ROOT if is_checkout(KIT_ROOT) else BUNDLED_COURSE


def is_checkout(root: Path) -> bool:
    """A source checkout of the kit (an editable install runs from one); site-packages is not."""
    return (root / "pyproject.toml").is_file() and (root / "exercises").is_dir()


@cache
def _released(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(folder.glob("*.ipynb")):
        try:
            exercise = read_notebook(path).exercise
        except InvalidNotebook:
            continue
        if exercise:
            found[exercise] = path
    return found


def released_names() -> dict[str, str]:
    """File name of each released notebook -> its exercise (``00_sample.ipynb`` -> ``sample``)."""
    return {path.name: exercise for exercise, path in _released(course_root() / "exercises").items()}


def reference_notebook(exercise: str) -> Notebook:
    """The released notebook of *exercise*; raises ``LookupError`` naming where it looked.

    Read once per version of the file: batch grading asks for it for every submission.
    """
    folder = course_root() / "exercises"
    path = _released(folder).get(exercise)
    if path is None:
        raise LookupError(f"no released notebook for exercise '{exercise}' in {folder}; "
                          "run `grader release` to write it")
    return _read_version(path, path.stat().st_mtime_ns)


@cache
def _read_version(path: Path, mtime_ns: int) -> Notebook:
    return read_notebook(path)
