"""A self-contained HTML feedback page per submission, safe to hand to that learner.

It shows only what ``grader check`` would show the learner (score, each part's failures
and hints) plus their own answer code for the parts that failed. Nothing of other
learners, the random seed, the checks' inputs or the run's captured output goes in.
"""

from __future__ import annotations

import html
from pathlib import Path

from grader.batch.exports import safe_name
from grader.batch.gradebook import Row
from grader.engine.course import reference_notebook
from grader.engine.notebook import InvalidNotebook, Notebook, read_notebook
from grader.engine.render import render_part_html

STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:52em;margin:2em auto;padding:0 1em;color:#1f2328}
h1{font-size:1.4em}.score{font-size:2em;font-weight:600}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:8px;overflow-x:auto;font-size:13px}
.ln{color:#8c959f;user-select:none}.problems{color:#9a6700}
"""


def feedback_path(out: Path, row: Row) -> Path:
    return out / "feedback" / safe_name(row.learner) / f"{safe_name(row.exercise)}.html"


def _answer_code(row: Row, part_id: str, submission: Notebook | None) -> str:
    """The learner's answer cells for *part_id*, numbered, with the error if one of them failed."""
    if submission is None:
        return ""
    try:
        reference = reference_notebook(row.exercise)
    except (LookupError, InvalidNotebook):
        return ""
    blocks = []
    for part in reference.parts():
        if part.part_id != part_id:
            continue
        for released in part.solution_cells:
            for cell in submission.cells_with_grade_id(released.grade_id or ""):
                numbered = "\n".join(f"<span class=ln>{n:>3}</span>  {html.escape(line)}"
                                     for n, line in enumerate(cell.source.splitlines(), 1))
                errors = [e for e in row.result["cell_errors"] if e["cell"] == cell.label and e.get("traceback")]
                trace = "".join(f"<pre>{html.escape(e['traceback'])}</pre>" for e in errors)
                blocks.append(f"<p>Your code in {html.escape(cell.label)}:</p><pre>{numbered}</pre>{trace}")
    return "".join(blocks)


def render_page(row: Row) -> str:
    """The page for one submission's latest result."""
    from grader.engine.result import PartResult

    try:
        submission = read_notebook(row.source)
    except InvalidNotebook:
        submission = None
    sections = []
    for data in row.result["parts"]:
        part = PartResult.from_dict(data)
        sections.append(render_part_html(part) + ("" if part.passed else _answer_code(row, part.id, submission)))
    problems = "".join(f"<li>{html.escape(problem)}</li>" for problem in row.result["problems"])
    title = f"{row.exercise}: feedback for {row.learner}"
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p class=score>{row.score:g} / {row.max_score:g} points</p><p>Status: {html.escape(row.status)}</p>"
        + (f"<ul class=problems>{problems}</ul>" if problems else "")
        + "".join(sections) + "</body></html>"
    )


def write_all(rows: list[Row], out: Path) -> None:
    for row in rows:
        target = feedback_path(out, row)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_page(row), encoding="utf-8")
