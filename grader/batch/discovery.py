"""Find the submissions in a folder or an LMS zip and say whose they are and which exercise.

Accepted layouts (they may be mixed): nbgrader's ``submitted/<learner>/<assignment>/<nb>.ipynb``,
a flat ``<learner>.ipynb`` and ``<learner>/<nb>.ipynb``. Every file that cannot be placed is
returned with the reason, so nothing an instructor handed in disappears silently.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.engine.course import reference_notebook, released_names
from grader.engine.notebook import InvalidNotebook, read_notebook


@dataclass(frozen=True)
class Submission:
    learner: str
    exercise: str
    path: Path
    content_hash: str


@dataclass(frozen=True)
class Unplaced:
    path: Path
    reason: str
    learner: str = ""  # whose hand-in it is, when the path says so: they still appear in the exports


@dataclass
class Discovery:
    submissions: list[Submission]
    unplaced: list[Unplaced]


def content_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def unpack(archive: Path, into: Path) -> Path:
    """Extract *archive* once per content (re-runs reuse it) and return the folder to scan."""
    target = into / content_hash(archive)[:16]
    if not target.exists():
        partial = target.with_suffix(".partial")
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.namelist():
                if member.startswith("/") or ".." in PurePosixPath(member).parts:
                    raise ValueError(f"{archive}: unsafe path {member!r} in the zip; re-download it from the LMS")
            bundle.extractall(partial)
        partial.rename(target)
    entries = [entry for entry in target.iterdir() if entry.name != "__MACOSX"]
    # An LMS download usually wraps everything in one top-level folder.
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else target


def _known_exercise(name: str | None) -> bool:
    if not name:
        return False
    try:
        reference_notebook(name)
    except (LookupError, InvalidNotebook):
        return False
    return True


def _declared_exercise(path: Path) -> tuple[str | None, str]:
    """The exercise the notebook's metadata names, or None and why (unreadable, or cleared)."""
    try:
        exercise = read_notebook(path).exercise
    except InvalidNotebook as error:
        return None, str(error).removeprefix(f"{path}: ")
    return exercise, "" if exercise else "the notebook has no 'grader.exercise' metadata (it was cleared)"


_GRADE_ID = re.compile(r'"grade_id"\s*:\s*"([^"\\]+)"')


def _grade_ids_by_exercise() -> dict[str, frozenset[str]]:
    return {exercise: frozenset(cell.grade_id for cell in reference_notebook(exercise).cells if cell.grade_id)
            for exercise in released_names().values()}


def _exercise_of_cells(path: Path) -> str | None:
    """The one released exercise whose cell ids the file's text holds: a notebook cut short or broken
    by a hand edit, or stripped of its metadata, still names its cells (part ids are unique in the kit)."""
    ids = set(_GRADE_ID.findall(path.read_text(encoding="utf-8", errors="replace")))
    owners = [exercise for exercise, owned in _grade_ids_by_exercise().items() if ids & owned]
    return owners[0] if len(owners) == 1 else None


def _place(relative: PurePosixPath) -> tuple[str | None, str | None, str]:
    """(learner, assignment folder, reason if unplaceable) from a path relative to the root."""
    parts = relative.parts
    if parts[0] == "submitted":
        parts = parts[1:]
        if len(parts) != 3:
            return None, None, "under submitted/ a notebook belongs at submitted/<learner>/<assignment>/<name>.ipynb"
    if len(parts) == 1:
        return relative.stem, None, ""
    if len(parts) == 2:
        return parts[0], None, ""
    if len(parts) == 3:
        return parts[0], parts[1], ""
    return None, None, "too deeply nested: expected <learner>.ipynb, <learner>/<name>.ipynb or nbgrader's layout"


def discover(root: Path, exercise: str | None = None) -> Discovery:
    """Every notebook under *root* placed as a :class:`Submission`, the rest as :class:`Unplaced`.

    The exercise is the notebook's ``grader.exercise`` metadata; failing that (metadata
    cleared, or the file unreadable, which is then graded as an invalid notebook),
    ``--exercise``, an nbgrader assignment folder, a file name of a released exercise, the
    cell ids in its text, or else the batch's only exercise.
    """
    found = Discovery([], [])
    unknown: list[tuple[Path, str, str]] = []  # (path, learner, why its exercise is unknown)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = PurePosixPath(path.relative_to(root).as_posix())
        if any(part.startswith(".") or part == "__MACOSX" for part in relative.parts):
            found.unplaced.append(Unplaced(path, "hidden or checkpoint file, ignored"))
            continue
        if path.suffix != ".ipynb":
            found.unplaced.append(Unplaced(path, "not a notebook (.ipynb)"))
            continue
        learner, assignment, reason = _place(relative)
        if learner is None:
            found.unplaced.append(Unplaced(path, reason))
            continue
        declared, problem = _declared_exercise(path)
        chosen = (declared or exercise or (assignment if _known_exercise(assignment) else None)
                  or (released_names().get(path.name) if len(relative.parts) > 1 else None)
                  or _exercise_of_cells(path))
        if chosen is None:
            unknown.append((path, learner, problem))
            continue
        if exercise and chosen != exercise:
            found.unplaced.append(Unplaced(path, f"exercise '{chosen}', not the one asked for (--exercise {exercise})"))
            continue
        found.submissions.append(Submission(learner, chosen, path, content_hash(path)))
    _infer_the_only_exercise(found, unknown)
    _report_duplicates(found)
    return found


def _infer_the_only_exercise(found: Discovery, unknown: list[tuple[Path, str, str]]) -> None:
    """Notebooks that do not say their exercise belong to the batch's exercise when it has one;
    otherwise they are listed with what is wrong with them and how to grade them."""
    exercises = sorted({submission.exercise for submission in found.submissions})
    for path, learner, problem in unknown:
        if len(exercises) == 1:
            found.submissions.append(Submission(learner, exercises[0], path, content_hash(path)))
            continue
        among = f"the batch has {len(exercises)} exercises ({', '.join(exercises)})" if exercises else \
            "no other notebook in the batch names its exercise"
        found.unplaced.append(Unplaced(path, f"{problem}; which exercise it is cannot be inferred ({among}): "
                                             "pass --exercise NAME to grade it as that exercise", learner))


def _report_duplicates(found: Discovery) -> None:
    """Two notebooks for the same learner and exercise: keep the first, list the others."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for submission in found.submissions:
        key = (submission.learner, submission.exercise)
        if key in seen:
            found.unplaced.append(Unplaced(submission.path, f"a second notebook for learner '{key[0]}' and "
                                                            f"exercise '{key[1]}'; only the first is graded"))
        else:
            seen.add(key)
            kept.append(submission)
    found.submissions = kept
