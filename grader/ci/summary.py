"""A Markdown summary of a run, for ``$GITHUB_STEP_SUMMARY`` (shown on the Actions run page)."""

from __future__ import annotations

from pathlib import Path

from grader.ci.names import notebook_label, points
from grader.ci.run import Report
from grader.engine import result as R


def _cell(text: str) -> str:
    """Table-safe: a pipe or a newline would break the Markdown table."""
    return text.replace("|", "\\|").replace("\n", "<br>")


def markdown_summary(report: Report, pass_mark: float) -> str:
    verdict = "passed" if report.passes(pass_mark) else "not yet passed"
    lines = [f"## Grader: {points(report.score)} / {points(report.max_score)} points "
             f"({report.percent():.0f}%), {verdict} (pass mark {pass_mark:g}%)", "",
             "| Notebook | Part | Points | Result | Feedback |", "|---|---|---|---|---|"]
    for result in report.results:
        label = _cell(notebook_label(result))
        if result.status == R.INVALID:
            lines.append(f"| {label} | | | could not be graded | {_cell(' '.join(result.problems))} |")
        for part in result.parts:
            mark = "pass" if part.passed else "fail"
            lines.append(f"| {label} | {_cell(part.id)} | {points(part.points)} / {points(part.max_points)} "
                         f"| {mark} | {_cell(' '.join(part.feedback))} |")
    problems = [(result, problem) for result in report.results if result.status != R.INVALID
                for problem in result.problems]
    if problems:
        lines += ["", "Problems:"] + [f"- {notebook_label(result)}: {problem}" for result, problem in problems]
    return "\n".join(lines) + "\n"


def append_summary(report: Report, pass_mark: float, path: str | Path) -> None:
    """Append, as GitHub asks: several steps may write to the same summary file."""
    with Path(path).open("a", encoding="utf-8") as summary:
        summary.write(markdown_summary(report, pass_mark))
