"""``report.html``: what an instructor looks at after a batch, charts drawn by the page itself.

Statuses and scores per exercise, the score distribution, per-part pass rates, the most
common failures (grouped by check and cause, so one mistake is one row however its
inputs varied; parts not answered, or not run because the file was unreadable, collapsed
into one row per exercise), the submissions whose locked cells were changed or deleted,
the slowest ones, every one that did not run to the end, and the files that could not be
placed.
"""

from __future__ import annotations

import collections
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader import pages
from grader.batch.exports import read_unplaced
from grader.batch.feedback import feedback_path
from grader.batch.gradebook import Row
from grader.engine import result as R

_NUMBER = re.compile(r"-?\b\d+(?:\.\d+)?(?:e-?\d+)?\b|\b[0-9a-f]{8,}\b")
_RAISED = re.compile(r"(?:raised|not checked:) ([A-Za-z_][\w.]*):")  # the exception's type in a check's message
NOT_ANSWERED = "Not answered yet"  # how the checks word a part whose stub still raises NotImplementedError
TOP = 10

STATUS_MEANING = {
    R.GRADED: "every cell ran; graded",
    R.TAMPERED: "graded with the released locked cells, which the learner changed or deleted",
    R.TIMED_OUT: "a cell ran out of time; the parts that did not need it were graded",
    R.CRASHED: "a cell killed the Python interpreter; the parts that did not need it were graded",
    R.MEMORY_LIMIT: "a cell ran out of memory; the parts that did not need it were graded",
    R.INVALID: "the file could not be read as a notebook; every part scores 0",
}
_CAUSE = {R.FAILED: "wrong result", R.RAISED: "raised", R.MISSING: "not defined", R.TIMEOUT: "did not finish",
          R.NOT_RUN: "not run", R.CHECK_ERROR: "grader error"}


@dataclass(frozen=True)
class Failure:
    """One group of failures: the same check failing for the same cause."""

    exercise: str
    part: str
    check: str
    cause: str
    submissions: int
    example: str


BINS = tuple(range(0, 100, 10))  # score bins, % of the points: 0-9, 10-19, ... 90-100


@dataclass(frozen=True)
class Histogram:
    """How many submissions of one exercise scored in each tenth of the points."""

    exercise: str
    counts: tuple[int, ...]

    @property
    def tallest(self) -> int:
        return max(self.counts) or 1


def score_histograms(rows: list[Row]) -> list[Histogram]:
    """One histogram per exercise, drawn by the page itself (HTML bars, no image to render)."""
    histograms = []
    for exercise in sorted({row.exercise for row in rows}):
        counts = [0] * len(BINS)
        for row in rows:
            if row.exercise == exercise and row.max_score:
                counts[min(int(10 * row.score / row.max_score), len(BINS) - 1)] += 1
        histograms.append(Histogram(exercise, tuple(counts)))
    return histograms


def pass_rates(rows: list[Row]) -> dict[str, float]:
    """Share of submissions passing each part, as 'exercise: part'."""
    counts: dict[str, list[int]] = {}
    for row in rows:
        for part in row.result["parts"]:
            tally = counts.setdefault(f"{row.exercise}: {part['id']}", [0, 0])
            tally[0] += part["passed"]
            tally[1] += 1
    return {name: passed / total for name, (passed, total) in counts.items()}


def _check_label(name: str) -> str:
    if name == "cell":
        return "its answer cell ran"
    return name.removeprefix("test_").replace("_", " ")


_CELL_CAUSE = {R.TIMED_OUT: "timed out", R.CRASHED: "crashed the interpreter"}


def _cause(check: dict[str, Any], cell_errors: list[dict[str, Any]]) -> str:
    """What went wrong, as a short phrase: a raised exception by its type, and an answer cell
    that failed by what its cell did (timed out, crashed, raised)."""
    if check["name"] == "cell":
        error = next((e for e in cell_errors if f"Your code in {e['cell']} failed" in check["message"]), None)
        if error and error["status"] in _CELL_CAUSE:
            return _CELL_CAUSE[error["status"]]
    raised = _RAISED.search(check["message"]) if check["outcome"] == R.RAISED else None
    return f"raised {raised.group(1)}" if raised else _CAUSE.get(check["outcome"], check["outcome"])


def _whole_notebook_cause(check: dict[str, Any]) -> str | None:
    """Failures that are about the notebook, not one part: a stub left unanswered, or a
    notebook that could not run at all. Each is one row per exercise, not one per part."""
    if check["message"].startswith(NOT_ANSWERED):
        return "not answered"
    return "notebook not run" if check["outcome"] == R.NOT_RUN else None


def common_failures(rows: list[Row]) -> list[Failure]:
    """The most frequent failures, counted in submissions: grouped by exercise, part, check and
    cause, with the commonest wording (numbers masked) as the example. Parts not answered
    yet, or not run because the notebook could not be, are one row per exercise."""
    submissions: collections.Counter[tuple[str, str, str, str]] = collections.Counter()
    wordings: dict[tuple[str, str, str, str], collections.Counter[str]] = collections.defaultdict(collections.Counter)
    examples: dict[str, str] = {}
    collapsed_parts: dict[tuple[str, str, str, str], dict[str, None]] = collections.defaultdict(dict)
    for row in rows:
        keys: set[tuple[str, str, str, str]] = set()
        for part in row.result["parts"]:
            for check in part["checks"]:
                if check["outcome"] == R.PASSED:
                    continue
                whole = _whole_notebook_cause(check)
                if whole:
                    key = (row.exercise, "", "", whole)
                    collapsed_parts[key][part["id"]] = None
                else:
                    key = (row.exercise, part["id"], _check_label(check["name"]),
                           _cause(check, row.result["cell_errors"]))
                keys.add(key)
                masked = _NUMBER.sub("#", check["message"])
                wordings[key][masked] += 1
                examples.setdefault(masked, check["message"])
        submissions.update(keys)
    failures = []
    for key, count in submissions.items():
        exercise, part, check, cause = key
        example = examples[wordings[key].most_common(1)[0][0]]
        if key in collapsed_parts:
            part = ", ".join(collapsed_parts[key])
        failures.append(Failure(exercise, part, check, cause, count, example))
    failures.sort(key=lambda f: (-f.submissions, f.exercise, f.part, f.check, f.cause))
    return failures[:TOP]


def _exercise_scores(rows: list[Row]) -> list[dict[str, Any]]:
    table = []
    for exercise in sorted({row.exercise for row in rows}):
        scores = [row.score for row in rows if row.exercise == exercise]
        table.append({"exercise": exercise, "submissions": len(scores), "mean": statistics.mean(scores),
                      "median": statistics.median(scores), "max": max(row.max_score for row in rows
                                                                       if row.exercise == exercise)})
    return table


def _why(row: Row) -> str:
    return "; ".join(row.result["problems"] + [e.get("message", "") for e in row.result["cell_errors"]])[:300]


def render(rows: list[Row], out: Path) -> str:
    statuses = collections.Counter(row.status for row in rows)
    order = list(STATUS_MEANING)
    link = {row.id: feedback_path(out, row).relative_to(out).as_posix() for row in rows}
    return pages.render(
        "report.html", title="Grading report", total=len(rows),
        statuses=[(status, statuses[status], STATUS_MEANING.get(status, ""))
                  for status in sorted(statuses, key=lambda s: order.index(s) if s in order else len(order))],
        scores=_exercise_scores(rows),
        histograms=score_histograms(rows), bins=BINS, rates=pass_rates(rows),
        failures=common_failures(rows), link=link,
        tampered=[(row, "; ".join(row.result["problems"])) for row in rows if row.status == R.TAMPERED],
        slow=sorted(rows, key=lambda row: row.seconds, reverse=True)[:TOP],
        stopped=[(row, _why(row)) for row in rows if row.status not in R.RAN_TO_THE_END],
        unplaced=read_unplaced(out))


def write(rows: list[Row], out: Path) -> Path:
    path = out / "report.html"
    path.write_text(render(rows, out), encoding="utf-8")
    return path
