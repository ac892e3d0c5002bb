"""Feedback a learner reads: a plain-text table for terminals, HTML for Jupyter."""

from __future__ import annotations

import html
import shutil
import textwrap

from grader.engine import result as R

_MARK = {True: "PASS", False: "FAIL"}

_STATUS_TEXT = {
    R.GRADED: "graded",
    R.TIMED_OUT: "graded, but some code ran out of time",
    R.CRASHED: "graded, but the notebook crashed the Python interpreter",
    R.MEMORY_LIMIT: "graded, but some code ran out of memory",
    R.TAMPERED: "graded, but locked cells or grading metadata were changed",
    R.INVALID: "could not be graded",
}


def _points(value: float) -> str:
    return f"{round(value, 2):g}"


PART_WIDTH = 20


def part_lines(part: R.PartResult, width: int) -> list[str]:
    points = f"{_points(part.points):>5} / {_points(part.max_points):<5}"
    head = f"{part.id:<{PART_WIDTH}} {points} {_MARK[part.passed]}"
    lines = [head]
    indent = " " * 4
    for message in part.feedback:
        lines += textwrap.wrap(message, width, initial_indent=indent + "- ", subsequent_indent=indent + "  ")
    if part.note:
        lines += textwrap.wrap(part.note, width, initial_indent=indent + "note: ", subsequent_indent=indent)
    return lines


def cell_error_line(error: dict) -> str:
    """One failed cell, as a line: where it is and what went wrong."""
    return f"{error['cell']}: {error.get('message', error['status'])}"


def render_text(result: R.Result) -> str:
    width = min(shutil.get_terminal_size((100, 20)).columns, 110) - 2
    title = f"{result.notebook}: {_STATUS_TEXT.get(result.status, result.status)}"
    if result.status != R.INVALID:
        title += f" - {_points(result.score)} / {_points(result.max_score)} points"
    lines = [title, ""]
    if result.parts:
        lines.append(f"{'part':<{PART_WIDTH}} {'points':^13} result")
        for part in result.parts:
            lines += part_lines(part, width)
    for heading, items in (("Problems", result.problems),
                           ("Cells that failed", [cell_error_line(e) for e in result.cell_errors])):
        if items:
            lines += ["", heading + ":"]
            for item in items:
                lines += textwrap.wrap(item, width, initial_indent="  - ", subsequent_indent="    ")
    return "\n".join(lines)


def render_part_html(part: R.PartResult) -> str:
    colour = "#1a7f37" if part.passed else "#cf222e"
    items = "".join(f"<li>{html.escape(message)}</li>" for message in part.feedback)
    note = f"<p style='color:#57606a;margin:4px 0'>{html.escape(part.note)}</p>" if part.note else ""
    return (
        f"<div style='border-left:4px solid {colour};padding:4px 10px;margin:6px 0'>"
        f"<b>{html.escape(part.id)}</b>: <span style='color:{colour}'>"
        f"{_points(part.points)} / {_points(part.max_points)} points</span>"
        f"{'<ul style=margin:4px 0>' + items + '</ul>' if items else ' - all checks passed'}{note}</div>"
    )
