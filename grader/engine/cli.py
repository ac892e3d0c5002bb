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
    check.add_argument("--timeout", type=float, default=180.0,
                       help="seconds for the whole notebook (default: %(default)g)")
    check.add_argument("--cell-timeout", type=float, default=30.0, help="seconds for one cell (default: %(default)g)")
    check.add_argument("--call-timeout", type=float, default=10.0,
                       help="seconds for one call of your code by a check (default: %(default)g)")
    check.add_argument("--memory-mb", type=int, default=2048,
                       help="address-space limit of learner code, in MB (default: %(default)s)")
    check.set_defaults(func=run_check)

    release = subparsers.add_parser("release", help="write exercises/ from solutions/")
    release.add_argument("--check", action="store_true",
                         help="fail, naming the files, if exercises/ is out of date")
    release.set_defaults(func=run_release)


def run_check(args: argparse.Namespace) -> int:
    from grader.engine import result as R
    from grader.engine.grade import grade_notebook
    from grader.engine.render import console, result_view
    from grader.engine.session import Limits

    limits = Limits(cell_seconds=args.cell_timeout, notebook_seconds=args.timeout,
                    call_seconds=args.call_timeout, memory_mb=args.memory_mb)
    result = grade_notebook(args.notebook, limits=limits, seed=args.seed)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    elif result.status == R.INVALID:
        print(f"grader: {result.problems[0]}", file=sys.stderr)
    else:
        console().print(result_view(result))
    if result.status == R.INVALID:
        return EXIT_UNUSABLE
    return EXIT_FULL_MARKS if result.score == result.max_score and result.max_score > 0 else EXIT_NOT_FULL


def run_release(args: argparse.Namespace) -> int:
    from grader.engine.course import course_root
    from grader.engine.release import release

    root = course_root()
    stale = release(root, check_only=args.check)
    count = len(list((root / "solutions").glob("*.ipynb")))
    notebooks = f"{count} notebook{'' if count == 1 else 's'}"
    if args.check and stale:
        for path in stale:
            print(f"grader release --check: {path} is out of date; run `grader release`", file=sys.stderr)
        return 1
    if args.check:
        print(f"grader release --check: exercises/ is up to date with solutions/ ({notebooks})")
        return 0
    for path in stale:
        print(f"wrote {path}")
    if not stale:
        print(f"grader release: exercises/ was already up to date ({notebooks})")
    return 0
