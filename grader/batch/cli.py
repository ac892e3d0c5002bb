"""``grader grade``, ``grader export`` and ``grader demo``: batch grading for instructors."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from grader.engine.cli import add_isolation_option

if TYPE_CHECKING:
    from grader.engine.zygote import ZygoteTemplate

EXIT_OK, EXIT_INCOMPLETE, EXIT_BAD_INPUT, EXIT_BUSY = 0, 1, 2, 3
DEMO_SUBMISSIONS = Path(__file__).resolve().parents[2] / "datasets" / "sample_submissions" / "submitted"


def _limit_options(parser: argparse.ArgumentParser, cell_timeout: float) -> None:
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="worker processes (default: %(default)s, the cores)")
    parser.add_argument("--timeout", type=float, default=180.0,
                        help="seconds for one whole notebook (default: %(default)g)")
    parser.add_argument("--cell-timeout", type=float, default=cell_timeout,
                        help="seconds for one cell (default: %(default)g)")
    parser.add_argument("--memory-mb", type=int, default=2048,
                        help="address-space limit of learner code, in MB (default: %(default)s)")
    add_isolation_option(parser)


def register(subparsers: argparse._SubParsersAction) -> None:
    grade = subparsers.add_parser("grade", help="grade a folder or zip of submissions into a gradebook")
    grade.add_argument("submissions", type=Path,
                       help="nbgrader's submitted/ layout, <learner>.ipynb, <learner>/<nb>.ipynb, or a .zip of these")
    grade.add_argument("--out", type=Path, required=True, help="folder for the gradebook, exports and report")
    grade.add_argument("--exercise", help="grade only this exercise (and notebooks that lost their metadata as it)")
    grade.add_argument("--scheduler", help="address of a Dask scheduler to grade on instead of local processes")
    _limit_options(grade, 30.0)
    grade.set_defaults(func=run_grade)

    export = subparsers.add_parser("export", help="rewrite exports, feedback pages and report from a gradebook")
    export.add_argument("--out", type=Path, required=True, help="the folder `grader grade --out` wrote")
    export.set_defaults(func=run_export)

    demo = subparsers.add_parser("demo", help="grade the bundled sample submissions and write a report")
    demo.add_argument("--out", type=Path, default=Path("build/demo"), help="output folder (default: build/demo)")
    _limit_options(demo, 5.0)
    demo.set_defaults(func=run_demo, submissions=DEMO_SUBMISSIONS, exercise=None, scheduler=None)


def run_grade(args: argparse.Namespace) -> int:
    from grader.engine.zygote import ZygoteTemplate

    if args.jobs < 1:
        print("grader grade: --jobs must be at least 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.scheduler:
        return _grade(args, None)
    with ZygoteTemplate() as template:  # first: its imports take over a second, the rest of set-up overlaps them
        return _grade(args, template)


def _grade(args: argparse.Namespace, template: ZygoteTemplate | None) -> int:
    from grader.batch.gradebook import GradebookBusy, GradebookTampered
    from grader.batch.runner import grade_batch
    from grader.engine.isolation import IsolationUnavailable, probe
    from grader.engine.session import Limits

    try:
        print(f"isolation: {probe(args.isolation)}")
    except IsolationUnavailable as error:
        print(f"grader grade: {error}; grade on a Linux machine with user namespaces, or without "
              "--isolation strict", file=sys.stderr)
        return EXIT_BAD_INPUT
    limits = Limits(cell_seconds=args.cell_timeout, notebook_seconds=args.timeout, memory_mb=args.memory_mb,
                    isolation=args.isolation)
    try:
        summary = grade_batch(args.submissions, args.out, jobs=args.jobs, exercise=args.exercise, limits=limits,
                              scheduler=args.scheduler, template=template)
    except GradebookBusy as error:
        print(f"grader grade: {error}", file=sys.stderr)
        return EXIT_BUSY
    except (FileNotFoundError, ValueError, ConnectionError, GradebookTampered) as error:
        print(f"grader grade: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for line in summary.errors:
        print(f"grader grade: {line}", file=sys.stderr)
    for item in summary.unplaced:
        print(f"not placed: {item.path}: {item.reason}", file=sys.stderr)
    print(summary.line())
    print(f"report: {args.out / 'report.html'}")
    # Learners' broken notebooks are graded results; a submission the grader itself could not
    # finish (a worker died) is not, and is retried by the next run: say so in the exit code.
    return EXIT_INCOMPLETE if summary.errors else EXIT_OK


def run_export(args: argparse.Namespace) -> int:
    from grader.batch.gradebook import Gradebook, GradebookBusy, GradebookTampered, exclusive
    from grader.batch.runner import publish

    path = args.out / "gradebook.sqlite"
    if not path.exists():
        print(f"grader export: {path} does not exist; run `grader grade SUBMISSIONS --out {args.out}` first",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        with exclusive(args.out):
            book = Gradebook(path)
            try:
                report = publish(book, args.out)
            finally:
                book.close()
    except GradebookBusy as error:
        print(f"grader export: {error}", file=sys.stderr)
        return EXIT_BUSY
    except GradebookTampered as error:
        print(f"grader export: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"wrote {args.out}/grades.csv, canvas.csv, results/, feedback/ and {report}")
    return EXIT_OK


def run_demo(args: argparse.Namespace) -> int:
    return run_grade(args)
