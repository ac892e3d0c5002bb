"""A self-contained HTML feedback page per submission, safe to hand to that learner.

It shows only what ``grader check`` would show the learner (score, each part's failures
and hints) plus their own answer code for the parts that failed, highlighted. Nothing of
other learners, the random seed, the checks' inputs or the run's captured output goes in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader import pages
from grader.batch.exports import safe_name
from grader.batch.gradebook import Row
from grader.engine.course import reference_notebook
from grader.engine.notebook import InvalidNotebook, Notebook, read_notebook
from grader.engine.render import STATUS_TEXT
from grader.engine.result import PartResult


def feedback_path(out: Path, row: Row) -> Path:
    return out / "feedback" / safe_name(row.learner) / f"{safe_name(row.exercise)}.html"


def _answer_code(row: Row, part_id: str, submission: Notebook | None) -> list[dict[str, Any]]:
    """The learner's answer cells for *part_id*, with the traceback if one of them failed."""
    if submission is None:
        return []
    try:
        reference = reference_notebook(row.exercise)
    except (LookupError, InvalidNotebook):
        return []
    blocks = []
    for part in reference.parts():
        if part.part_id != part_id:
            continue
        for released in part.solution_cells:
            for cell in submission.cells_with_grade_id(released.grade_id or ""):
                tracebacks = [e["traceback"] for e in row.result["cell_errors"]
                              if e["cell"] == cell.label and e.get("traceback")]
                blocks.append({"label": cell.label, "source": cell.source, "tracebacks": tracebacks})
    return blocks


def render_page(row: Row) -> str:
    """The page for one submission's latest result."""
    try:
        submission = read_notebook(row.source)
    except InvalidNotebook:
        submission = None
    sections = []
    for data in row.result["parts"]:
        part = PartResult.from_dict(data)
        sections.append({"part": part, "code": [] if part.passed else _answer_code(row, part.id, submission)})
    return pages.render("feedback.html", title=f"{row.exercise}: feedback for {row.learner}",
                        score=row.score, max_score=row.max_score,
                        status_text=STATUS_TEXT.get(row.status, row.status).capitalize(),
                        problems=row.result["problems"], sections=sections)


def write_page(row: Row, out: Path) -> None:
    target = feedback_path(out, row)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_page(row), encoding="utf-8")


def write_all(rows: list[Row], out: Path) -> None:
    for row in rows:
        write_page(row, out)
