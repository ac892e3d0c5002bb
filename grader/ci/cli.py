"""The CI options of ``grader check`` and the ``grader ci`` / ``grader gradescope`` commands."""

from __future__ import annotations

import argparse
import os


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


def write_ci_outputs(report, args: argparse.Namespace) -> None:
    if args.junit:
        from grader.ci.junit import write_junit

        write_junit(report, args.junit)
    if args.summary:
        from grader.ci.summary import append_summary

        append_summary(report, args.pass_mark, args.summary)
    if args.classroom50:
        from grader.ci.classroom50 import write_classroom50

        write_classroom50(report, args.classroom50)
