"""The CI options of ``grader check`` and the ``grader ci`` / ``grader gradescope`` commands."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.ci.run import Report

# Gradescope's settings for when learners see a test or the autograder's output.
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


def add_ci_output_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("CI outputs (each written after grading, totals as in --json)")
    group.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    group.add_argument("--summary", metavar="FILE", default=os.environ.get("GITHUB_STEP_SUMMARY"),
                       help="append a Markdown summary (default: $GITHUB_STEP_SUMMARY when set)")
    group.add_argument("--classroom50", metavar="FILE", help="write a Classroom 50 result.json")
    group.add_argument("--pass-mark", type=_percent, default=100.0, metavar="PERCENT",
                       help="exit 0 from this share of the points on (default 100: full marks)")


def _percent(text: str) -> float:
    value = float(text.rstrip("%"))
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text}: a pass mark is a percentage from 0 to 100")
    return value


def write_ci_outputs(report: Report, args: argparse.Namespace) -> None:
    """Write the CI files the options ask for, from one graded report."""
    if args.junit:
        from grader.ci.junit import write_junit

        write_junit(report, args.junit)
    if args.summary:
        from grader.ci.summary import append_summary

        append_summary(report, args.pass_mark, args.summary)
    if args.classroom50:
        from grader.ci.classroom50 import write_classroom50

        write_classroom50(report, args.classroom50)


def register(subparsers: argparse._SubParsersAction) -> None:
    ci = subparsers.add_parser("ci", help="write the files that grade learners' work in CI")
    ci_commands = ci.add_subparsers(dest="ci_command", metavar="FILE", required=True)
    workflow = ci_commands.add_parser("workflow", help="a GitHub Actions workflow for learners' repositories")
    workflow.add_argument("--out", default=".github/workflows/grade.yml", help="default: %(default)s")
    workflow.add_argument("--pass-mark", type=_percent, default=100.0, metavar="PERCENT",
                          help="the job fails below this share of the points (default 100)")
    workflow.add_argument("--python", help="Python version on the runner (default: this one's)")
    _install_and_paths(workflow)
    workflow.set_defaults(func=run_workflow)
    classroom50 = ci_commands.add_parser("classroom50", help="a Classroom 50 autograder.py")
    classroom50.add_argument("--out", default="autograder.py", help="default: %(default)s")
    _install_and_paths(classroom50)
    classroom50.set_defaults(func=run_classroom50)

    gradescope = subparsers.add_parser("gradescope", help="build or run a Gradescope autograder")
    gradescope_commands = gradescope.add_subparsers(dest="gradescope_command", metavar="STEP", required=True)
    build = gradescope_commands.add_parser("build", help="write the autograder zip to upload to Gradescope")
    build.add_argument("--out", default="autograder.zip", help="default: %(default)s")
    build.add_argument("--install", help="what setup.sh installs: a .whl (shipped in the zip) or a pip "
                       "requirement (default: a wheel built from this checkout)")
    build.add_argument("--exercise", action="append", default=[], metavar="NAME",
                       help="an exercise this assignment grades (repeat; default: whatever is submitted)")
    build.add_argument("--visibility", choices=VISIBILITIES, default="visible",
                       help="when learners see the tests (default: %(default)s)")
    build.add_argument("--stdout-visibility", choices=VISIBILITIES, default="hidden",
                       help="when learners see the autograder's own output (default: %(default)s)")
    build.set_defaults(func=run_gradescope_build)
    run = gradescope_commands.add_parser("run", help="grade a submission (what run_autograder calls)")
    run.add_argument("--root", default="/autograder", help="Gradescope's folder (default: %(default)s)")
    run.set_defaults(func=run_gradescope_run)


def _install_and_paths(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--install", help="what pip installs: a requirement, a git+https URL or a wheel "
                        "(default: this version of the kit from the package index)")
    parser.add_argument("--path", action="append", dest="paths", metavar="PATH",
                        help="a notebook or folder to grade, relative to the repository (repeat; default: .)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")


def _write(path: str, text: str, force: bool) -> int:
    from pathlib import Path

    from grader.ci.integrations import write_new

    try:
        write_new(Path(path), text, force)
    except FileExistsError as error:
        print(f"grader: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


def run_workflow(args: argparse.Namespace) -> int:
    from grader.ci.integrations import default_install, workflow

    text = workflow(args.install or default_install(), args.paths or ["."], args.pass_mark, args.python)
    return _write(args.out, text, args.force)


def run_classroom50(args: argparse.Namespace) -> int:
    from grader.ci.integrations import classroom50_autograder, default_install

    return _write(args.out, classroom50_autograder(args.install or default_install(), args.paths or ["."]),
                  args.force)


def run_gradescope_build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from grader.ci.gradescope import build_autograder

    try:
        out = build_autograder(Path(args.out), install=args.install, exercises=args.exercise,
                               visibility=args.visibility, stdout_visibility=args.stdout_visibility)
    except (ValueError, FileNotFoundError) as error:
        print(f"grader gradescope build: {error}", file=sys.stderr)
        return 2
    print(f"wrote {out}: upload it as the autograder of a Gradescope programming assignment")
    return 0


def run_gradescope_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from grader.ci.gradescope import run_autograder

    results = run_autograder(Path(args.root))
    print(results["output"])
    return 0
