"""One batch run: discover, grade what is not in the gradebook yet, then write every output."""

from __future__ import annotations

import csv
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from grader.batch import workers
from grader.batch.discovery import Discovery, Submission, Unplaced, discover, unpack
from grader.batch.gradebook import Gradebook, exclusive
from grader.batch.progress import Progress
from grader.engine import result as R
from grader.engine.session import Limits


@dataclass
class Summary:
    graded: int = 0
    failed: int = 0  # the notebook did not run to the end (timeout, crash, memory, invalid) or its worker died
    skipped: int = 0  # unchanged since an earlier run
    unplaced: list[Unplaced] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        return (f"{self.graded} graded, {self.failed} failed to run, {self.skipped} skipped as unchanged, "
                f"{len(self.unplaced)} not placed, in {self.seconds:.1f} s")


def find(source: Path, out: Path, exercise: str | None) -> Discovery:
    """Discover submissions in a folder or (unpacked into *out*) a zip."""
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such folder or zip; pass the folder of submissions or the LMS download")
    if source.suffix != ".zip":
        return discover(source, exercise)
    extracted = out / "unpacked"
    found = discover(unpack(source, extracted), exercise)
    # Name unplaced files by their path in the zip (below unpacked/<zip hash>/), not in our copy.
    found.unplaced = [replace(item, path=source.joinpath(*item.path.relative_to(extracted).parts[1:]))
                      for item in found.unplaced]
    return found


def grade_batch(source: Path, out: Path, *, jobs: int, exercise: str | None = None, limits: Limits | None = None,
                scheduler: str | None = None, stream: TextIO | None = None) -> Summary:
    """Grade every new or changed submission in *source* into ``out/gradebook.sqlite``, then publish."""
    started = time.monotonic()
    stream = stream or sys.stderr
    summary = Summary()
    with exclusive(out):
        found = find(source, out, exercise)
        summary.unplaced = found.unplaced
        book = Gradebook(out / "gradebook.sqlite")
        try:
            book.mark_current((s.learner, s.exercise, s.content_hash) for s in found.submissions)
            done = book.graded_keys()
            todo = [s for s in found.submissions if (s.learner, s.exercise, s.content_hash) not in done]
            summary.skipped = len(found.submissions) - len(todo)
            if todo:
                _grade(todo, book, summary, jobs, limits or Limits(), scheduler, stream)
            write_unplaced(found.unplaced, out)
            publish(book, out)
        finally:
            book.close()
    summary.seconds = time.monotonic() - started
    return summary


def _grade(todo: list[Submission], book: Gradebook, summary: Summary, jobs: int, limits: Limits,
           scheduler: str | None, stream: TextIO) -> None:
    by_path = {str(s.path): s for s in todo}
    tasks = [workers.task_for(s, limits) for s in todo]
    results = workers.run_dask(tasks, scheduler) if scheduler else workers.run_local(tasks, jobs)
    progress = Progress(len(tasks), stream)
    for task, outcome in results:
        submission = by_path[task.path]
        if isinstance(outcome, BaseException):
            summary.failed += 1
            summary.errors.append(f"{task.path}: the grading worker failed ({outcome!r}); run again to retry")
        else:
            book.record(submission.learner, submission.exercise, submission.content_hash, task.path, outcome)
            if outcome["status"] in R.RAN_TO_THE_END:
                summary.graded += 1
            else:
                summary.failed += 1
        progress.advance(f"{submission.learner}/{submission.exercise}")
    progress.close()


def write_unplaced(unplaced: list[Unplaced], out: Path) -> None:
    with open(out / "unplaced.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "reason"])
        writer.writerows([str(item.path), item.reason] for item in unplaced)


def publish(book: Gradebook, out: Path) -> Path:
    """Write exports, feedback pages and the report from the gradebook; returns the report's path."""
    from grader.batch import exports, feedback, report

    rows = book.rows()
    exports.write_all(rows, out)
    feedback.write_all(rows, out)
    return report.write(rows, out)
