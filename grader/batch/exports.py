"""Files other tools read: ``grades.csv``, a Canvas gradebook import and Gradescope ``results.json``.

All of them are written from the gradebook's latest result per learner and exercise, and from
``unplaced.csv`` (a learner whose notebook's exercise could not be told still has a row, saying
why), so ``grader export`` can regenerate them at any time without grading anything.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from grader.batch.gradebook import Row
from grader.engine.render import cell_error_line, points_text

CANVAS_FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def safe_name(text: str) -> str:
    """A file-name-safe version of a learner id or exercise name."""
    return re.sub(r"[^\w.-]", "_", text).lstrip(".") or "_"


def _columns(rows: list[Row]) -> tuple[list[str], list[tuple[str, str]]]:
    """Exercises in order, and (exercise, part) pairs in the order the parts appear."""
    exercises = sorted({row.exercise for row in rows})
    parts: dict[tuple[str, str], None] = {}
    for exercise in exercises:
        for row in rows:
            if row.exercise == exercise:
                parts.update(((exercise, part["id"]), None) for part in row.result["parts"])
    return exercises, list(parts)


def _by_learner(rows: list[Row], unplaced: dict[str, str]) -> dict[str, dict[str, Row]]:
    """Each learner's results by exercise; a learner with only unplaced files gets no results, but a row."""
    table: dict[str, dict[str, Row]] = {learner: {} for learner in unplaced}
    for row in rows:
        table.setdefault(row.learner, {})[row.exercise] = row
    return table


def read_unplaced(out: Path) -> list[dict[str, str]]:
    """The rows of ``out/unplaced.csv`` (file, reason, learner), as the last run wrote them (a file
    from before the learner column has none)."""
    path = out / "unplaced.csv"
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return [{"learner": "", **row} for row in csv.DictReader(handle)]


def _unplaced_by_learner(unplaced: list[dict[str, str]]) -> dict[str, str]:
    """learner -> "file: reason" for each of their files that was not graded (several joined by " | ")."""
    table: dict[str, list[str]] = {}
    for item in unplaced:
        if item["learner"]:
            table.setdefault(item["learner"], []).append(f"{Path(item['file']).name}: {item['reason']}")
    return {learner: " | ".join(lines) for learner, lines in table.items()}


def write_grades_csv(rows: list[Row], path: Path, unplaced: dict[str, str]) -> None:
    """One row per learner: total, then a column per exercise and per part (empty if not submitted),
    then each exercise's status (``graded``, ``timeout``, ``invalid_notebook``...), so a 0 that
    means "could not be read" is told apart from a 0 that was earned, and last the learner's files
    that were not graded, with why (*unplaced*: learner -> text)."""
    exercises, parts = _columns(rows)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["learner", "total", "max_total", *exercises,
                         *(f"{exercise}:{part}" for exercise, part in parts),
                         *(f"{exercise}:status" for exercise in exercises), "unplaced"])
        for learner, by_exercise in sorted(_by_learner(rows, unplaced).items()):
            points = {(row.exercise, part["id"]): part["points"]
                      for row in by_exercise.values() for part in row.result["parts"]}
            graded = by_exercise.values()
            writer.writerow([
                learner, points_text(sum(row.score for row in graded)) if graded else "",
                points_text(sum(row.max_score for row in graded)) if graded else "",
                *(points_text(by_exercise[e].score) if e in by_exercise else "" for e in exercises),
                *(points_text(points[key]) if key in points else "" for key in parts),
                *(by_exercise[e].status if e in by_exercise else "" for e in exercises),
                unplaced.get(learner, ""),
            ])


def write_canvas_csv(rows: list[Row], path: Path, unplaced: dict[str, str]) -> None:
    """Canvas's gradebook import: fixed columns, a 'Points Possible' row, one column per exercise.
    A learner with only unplaced files has a row with empty cells, no grade: an extra column would
    become a new assignment on import, so why is said in grades.csv."""
    exercises, _ = _columns(rows)
    possible = {row.exercise: row.max_score for row in rows}
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*CANVAS_FIXED, *exercises])
        writer.writerow(["Points Possible", "", "", "", "", *(points_text(possible[e]) for e in exercises)])
        for learner, by_exercise in sorted(_by_learner(rows, unplaced).items()):
            writer.writerow([learner, "", learner, learner, "",
                             *(points_text(by_exercise[e].score) if e in by_exercise else "" for e in exercises)])


def gradescope_results(row: Row) -> dict[str, Any]:
    """Gradescope's autograder ``results.json`` for one submission."""
    result = row.result
    tests = [{"name": part["id"], "score": round(part["points"], 2), "max_score": part["max_points"],
              "status": "passed" if part["passed"] else "failed", "output": "\n".join(part["feedback"])}
             for part in result["parts"]]
    output = "\n".join(result["problems"] + [cell_error_line(e) for e in result["cell_errors"]])
    return {"score": round(row.score, 2), "execution_time": round(row.seconds, 3), "output": output,
            "visibility": "after_published", "stdout_visibility": "hidden", "tests": tests,
            "extra_data": {"learner": row.learner, "exercise": row.exercise, "status": row.status,
                           "content_hash": row.content_hash}}


def results_json_path(out: Path, row: Row) -> Path:
    return out / "results" / safe_name(row.learner) / f"{safe_name(row.exercise)}.json"


def write_all(rows: list[Row], out: Path, unplaced: list[dict[str, str]]) -> None:
    """Every export; Gradescope's files are per exercise, so an unplaced file has none."""
    by_learner = _unplaced_by_learner(unplaced)
    write_grades_csv(rows, out / "grades.csv", by_learner)
    write_canvas_csv(rows, out / "canvas.csv", by_learner)
    for row in rows:
        target = results_json_path(out, row)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(gradescope_results(row), indent=2), encoding="utf-8")
