"""How a graded part is named and described in every CI output, so they all agree."""

from __future__ import annotations

from pathlib import Path

from grader.engine import result as R


def notebook_label(result: R.Result) -> str:
    """The exercise a notebook is for, or its file name when it names none."""
    return result.exercise or Path(result.notebook).name


def test_name(result: R.Result, part: R.PartResult) -> str:
    return f"{notebook_label(result)}::{part.id}"


def points(value: float) -> int | float:
    """An integral score as an int (platforms such as Classroom 50 expect integers); partial
    credit keeps its fraction, so every output's total equals ``grader check --json``."""
    return int(value) if float(value).is_integer() else round(value, 4)


def feedback_text(part: R.PartResult) -> str:
    """The learner feedback of a part, one line per message (hints included), as ``grader check`` says it."""
    lines = [f"- {message}" for message in part.feedback]
    if part.note:
        lines.append(f"note: {part.note}")
    return "\n".join(lines)


def problem_text(result: R.Result) -> str:
    """Why a notebook could not be graded, or what else the learner should know about it."""
    return "\n".join(result.problems)
