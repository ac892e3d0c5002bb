"""Feedback a learner reads in a terminal: a table of parts drawn by rich (plain text, no
colour, when the output is not a terminal). The HTML forms are in ``grader.pages``."""

from __future__ import annotations

from typing import TextIO

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from grader.engine import result as R

STATUS_TEXT = {
    R.GRADED: "graded",
    R.TIMED_OUT: "graded, but some code ran out of time",
    R.CRASHED: "graded, but the notebook crashed the Python interpreter",
    R.MEMORY_LIMIT: "graded, but some code ran out of memory",
    R.TAMPERED: "graded, but locked cells or grading metadata were changed or deleted",
    R.INVALID: "could not be graded",
}


def points_text(value: float) -> str:
    """Points as people write them: at most two decimals, no trailing zeros (2, 2.5, 3.47)."""
    return f"{round(value, 2):.2f}".rstrip("0").rstrip(".")


def cell_error_line(error: dict) -> str:
    """One failed cell, as a line: where it is and what went wrong."""
    return f"{error['cell']}: {error.get('message', error['status'])}"


def parts_table(parts: list[R.PartResult]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
    table.add_column("part", no_wrap=True)
    table.add_column("points", justify="right", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("feedback", ratio=1)
    for part in parts:
        mark = Text("PASS", style="green") if part.passed else Text("FAIL", style="bold red")
        table.add_row(part.id, f"{points_text(part.points)} / {points_text(part.max_points)}", mark,
                      _feedback_list(part))
    return table


def _feedback_list(part: R.PartResult) -> Table:
    """The part's messages as a bulleted list with hanging indents, then its note."""
    items = Table.grid(padding=(0, 1))
    items.add_column(no_wrap=True)
    items.add_column()
    for message in part.feedback:
        items.add_row("-", Text(message))
    if part.note:
        items.add_row("", Text(part.note, style="dim"))
    return items


def _bullets(heading: str, items: list[str]) -> list:
    return [Text(f"\n{heading}:", style="bold"), *(Text(f"  - {item}") for item in items)] if items else []


def result_view(result: R.Result) -> Group:
    """The whole result: a title line, the parts table, then problems and failed cells."""
    title = f"{result.notebook}: {STATUS_TEXT.get(result.status, result.status)}"
    if result.status != R.INVALID:
        title += f" - {points_text(result.score)} / {points_text(result.max_score)} points"
    items: list = [Text(title, style="bold"), Text("")]
    if result.parts:
        items.append(parts_table(result.parts))
    items += _bullets("Problems", result.problems)
    items += _bullets("Cells that failed", [cell_error_line(e) for e in result.cell_errors])
    return Group(*items)


def console(file: TextIO | None = None) -> Console:
    """A console that wraps to the terminal, or to 100 columns when writing to a file or pipe."""
    terminal = Console(file=file, highlight=False, soft_wrap=False)
    return terminal if terminal.is_terminal else Console(file=file, highlight=False, width=100)
