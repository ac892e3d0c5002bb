"""One batch run: discover, grade what is not in the gradebook yet, then write every output."""

from __future__ import annotations

import collections
import csv
import sys
import time
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from grader.batch import workers
from grader.batch.discovery import Discovery, Submission, Unplaced, discover, unpack
from grader.batch.gradebook import Gradebook, exclusive
from grader.batch.progress import Progress
from grader.engine import result as R
from grader.engine.session import Limits

if TYPE_CHECKING:
    from grader.engine.zygote import ZygoteTemplate

# How each learner outcome reads in the summary line, in the order it is listed.
OUTCOME_WORDS = {R.GRADED: "ran to the end", R.TAMPERED: "with changed locked cells", R.TIMED_OUT: "timed out",
                 R.CRASHED: "crashed", R.MEMORY_LIMIT: "ran out of memory", R.INVALID: "could not be read"}


@dataclass
class Summary:
    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)  # learners' results by status
    skipped: int = 0  # unchanged since an earlier run
    unplaced: list[Unplaced] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # submissions the grader itself could not finish
    seconds: float = 0.0

    @property
    def graded(self) -> int:
        return sum(self.outcomes.values())

    def line(self) -> str:
        """E.g. "9 graded (6 ran to the end, 2 timed out, 1 crashed), ...": learners' outcomes by
        status, kept apart from the grader's own failures."""
        order = list(OUTCOME_WORDS)
        statuses = sorted(self.outcomes, key=lambda s: order.index(s) if s in order else len(order))
        detail = ", ".join(f"{self.outcomes[s]} {OUTCOME_WORDS.get(s, s)}" for s in statuses)
        text = f"{self.graded} graded" + (f" ({detail})" if detail else "")
        text += f", {self.skipped} skipped as unchanged, {len(self.unplaced)} not placed"
        if self.errors:
            text += f", {len(self.errors)} not finished by the grader (run again to retry them)"
        return text + f", in {self.seconds:.1f} s"


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
                scheduler: str | None = None, stream: TextIO | None = None,
                template: ZygoteTemplate | None = None) -> Summary:
    """Grade every new or changed submission in *source* into ``out/gradebook.sqlite``, then publish.

    *template*: an already started ``ZygoteTemplate`` for the local workers (see ``workers.run_local``)."""
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
            pages_written: set[int] = set()
            if todo:
                settle = _Settler(book, out, summary, Progress(len(todo), stream))
                _grade(todo, settle, jobs, limits or Limits(), scheduler, template)
                pages_written = settle.pages_written
            write_unplaced(found.unplaced, out)
            publish(book, out, pages_written=pages_written)
        finally:
            book.close()
    summary.seconds = time.monotonic() - started
    return summary


def _grade(todo: list[Submission], settle: _Settler, jobs: int, limits: Limits, scheduler: str | None,
           template: ZygoteTemplate | None) -> None:
    by_path = {str(s.path): s for s in todo}
    tasks = [workers.task_for(s, limits) for s in sorted(todo, key=_expected_cost, reverse=True)]
    results = workers.run_dask(tasks, scheduler) if scheduler else workers.run_local(tasks, jobs, template)
    broke_a_worker = []
    for task, outcome in results:
        if isinstance(outcome, BaseException) and workers.worker_died(outcome):
            broke_a_worker.append(task)  # or was queued on the worker another submission killed
            continue
        settle(by_path[task.path], task, outcome)
    for task, outcome in workers.run_alone(broke_a_worker):
        settle(by_path[task.path], task, outcome)
    settle.progress.close()


def _expected_cost(submission: Submission) -> int:
    """How long a submission will take, roughly: its size. Longest first, so that the batch does not
    end with one worker busy on a long submission while the others wait (a blank exercise, the
    smallest of its kind, fails its checks fastest)."""
    try:
        return submission.path.stat().st_size
    except OSError:
        return 0


@dataclass
class _Settler:
    """Takes each outcome as it arrives: records it, and writes the learner's feedback page at once.

    The page is written here, while the workers grade the rest, not in :func:`publish` after the
    last one: highlighting the code of failed parts is most of publishing's time, which would
    otherwise be paid with every core but one idle (0.9 s for a class of 100).
    """

    book: Gradebook
    out: Path
    summary: Summary
    progress: Progress
    pages_written: set[int] = field(default_factory=set)  # gradebook row ids

    def __call__(self, submission: Submission, task: workers.Task, outcome: dict[str, Any] | BaseException) -> None:
        """Record a result, or note that the grader itself failed (the next run retries it)."""
        from grader.batch import feedback

        if isinstance(outcome, BaseException):
            self.summary.errors.append(f"{task.path}: the grader failed ({outcome!r}); run again to retry")
        else:
            row = self.book.record(submission.learner, submission.exercise, submission.content_hash, task.path,
                                   outcome)
            self.summary.outcomes[outcome["status"]] += 1
            if row is not None:
                try:
                    feedback.write_page(row, self.out)
                except Exception:  # publish writes it again once every result is stored, and says why
                    pass
                else:
                    self.pages_written.add(row.id)
        self.progress.advance(f"{submission.learner}/{submission.exercise}")


def write_unplaced(unplaced: list[Unplaced], out: Path) -> None:
    """``unplaced.csv``: every file not graded, why, and whose it is when its path says so (the
    exports list those learners too, and ``grader export`` reads them back from here)."""
    with open(out / "unplaced.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "reason", "learner"])
        writer.writerows([str(item.path), item.reason, item.learner] for item in unplaced)


def publish(book: Gradebook, out: Path, *, pages_written: AbstractSet[int] = frozenset()) -> Path:
    """Write exports, feedback pages and the report from the gradebook; returns the report's path.

    *pages_written*: the rows whose feedback page this run already wrote (a page depends on its row only).
    """
    from grader.batch import exports, feedback, report

    book.verify()  # again: nothing may have changed it while the run graded
    rows = book.rows()
    exports.write_all(rows, out, exports.read_unplaced(out))
    feedback.write_all([row for row in rows if row.id not in pages_written], out)
    return report.write(rows, out)
