"""``grader check`` and ``grader release``."""

from __future__ import annotations

import argparse
import json
import sys

EXIT_FULL_MARKS, EXIT_NOT_FULL, EXIT_UNUSABLE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    check = subparsers.add_parser("check", help="grade one notebook and print feedback")
    check.add_argument("notebook", help="path to an .ipynb file")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.add_argument("--seed", type=int, help="seed for the checks' random inputs "
                       "(default: derived from the notebook's code, so a file always gets the same grade)")
    check.add_argument("--timeout", type=float, default=180.0, help="seconds for the whole notebook")
    check.add_argument("--cell-timeout", type=float, default=30.0, help="seconds for one cell")
    check.add_argument("--call-timeout", type=float, default=10.0,
                       help="seconds for one call of your code by a check")
    check.add_argument("--memory-mb", type=int, default=2048, help="address-space limit of learner code")
    add_isolation_option(check)
    check.set_defaults(func=run_check)

    release = subparsers.add_parser("release", help="write exercises/ from solutions/")
    release.add_argument("--check", action="store_true",
                         help="fail, naming the files, if exercises/ is out of date")
    release.set_defaults(func=run_release)


def add_isolation_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--isolation", choices=("auto", "strict", "process"), default="auto",
                        help="how learner code is contained: auto (Linux namespaces where the machine allows, "
                             "else process limits only; default), strict (namespaces or refuse to grade), "
                             "process (process limits only)")


def run_check(args: argparse.Namespace) -> int:
    from grader.engine import result as R
    from grader.engine.grade import grade_notebook
    from grader.engine.isolation import IsolationUnavailable
    from grader.engine.render import render_text
    from grader.engine.session import Limits

    limits = Limits(cell_seconds=args.cell_timeout, notebook_seconds=args.timeout,
                    call_seconds=args.call_timeout, memory_mb=args.memory_mb, isolation=args.isolation)
    try:
        result = grade_notebook(args.notebook, limits=limits, seed=args.seed)
    except IsolationUnavailable as error:
        print(f"grader check: {error}; run without --isolation strict to grade with process isolation only",
              file=sys.stderr)
        return EXIT_UNUSABLE
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    elif result.status == R.INVALID:
        print(f"grader: {result.problems[0]}", file=sys.stderr)
    else:
        print(render_text(result))
        print(f"isolation: {result.isolation}")
    if result.status == R.INVALID:
        return EXIT_UNUSABLE
    return EXIT_FULL_MARKS if result.score == result.max_score and result.max_score > 0 else EXIT_NOT_FULL


def run_release(args: argparse.Namespace) -> int:
    from grader.engine.course import course_root
    from grader.engine.release import release

    stale = release(course_root(), check_only=args.check)
    if args.check and stale:
        for path in stale:
            print(f"grader release --check: {path} is out of date; run `grader release`", file=sys.stderr)
        return 1
    for path in stale:
        print(f"wrote {path}")
    return 0
