"""``grader check`` and ``grader release``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_FULL_MARKS, EXIT_NOT_FULL, EXIT_UNUSABLE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    check = subparsers.add_parser("check", help="grade notebooks and print feedback and the total")
    check.add_argument("paths", nargs="+", metavar="PATH",
                       help="an .ipynb file, or a folder whose notebooks are all graded")
    check.add_argument("--json", action="store_true", help="print the result as JSON (several notebooks: "
                       "{score, max_score, notebooks: [...]})")
    check.add_argument("--seed", type=int, help="seed for the checks' random inputs "
                       "(default: derived from the notebook's code, so a file always gets the same grade)")
    check.add_argument("--timeout", type=float, default=180.0,
                       help="seconds for the whole notebook (default: %(default)g)")
    check.add_argument("--cell-timeout", type=float, default=30.0, help="seconds for one cell (default: %(default)g)")
    check.add_argument("--call-timeout", type=float, default=10.0,
                       help="seconds for one call of your code by a check (default: %(default)g)")
    check.add_argument("--memory-mb", type=int, default=2048,
                       help="address-space limit of learner code, in MB (default: %(default)s)")
    add_isolation_option(check)
    from grader.ci.cli import add_ci_output_options

    add_ci_output_options(check)
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
    from grader.ci.cli import write_ci_outputs
    from grader.ci.run import grade_paths, notebooks_in
    from grader.engine import result as R
    from grader.engine.isolation import IsolationUnavailable
    from grader.engine.render import console, result_view
    from grader.engine.session import Limits

    if not notebooks_in(args.paths):
        print(f"grader: no exercise notebooks in {', '.join(args.paths)} (a folder's .ipynb files count when "
              "their metadata names a kit exercise; name any other notebook on its own)", file=sys.stderr)
        return EXIT_UNUSABLE
    limits = Limits(cell_seconds=args.cell_timeout, notebook_seconds=args.timeout,
                    call_seconds=args.call_timeout, memory_mb=args.memory_mb, isolation=args.isolation)
    try:
        report = grade_paths(args.paths, limits=limits, seed=args.seed)
    except IsolationUnavailable as error:
        print(f"grader check: {error}; run without --isolation strict to grade with process isolation only",
              file=sys.stderr)
        return EXIT_UNUSABLE
    single = len(args.paths) == 1 and len(report.results) == 1 and not Path(args.paths[0]).is_dir()
    write_ci_outputs(report, args)
    if args.json:
        print(json.dumps(report.results[0].to_dict() if single else report.to_dict(), indent=2))
    else:
        for result in report.results:
            if result.status == R.INVALID:
                print(f"grader: {result.problems[0]}", file=sys.stderr)
            else:
                console().print(result_view(result))
        if not single:
            print(f"Total: {report.score:g} / {report.max_score:g} points ({report.percent():.0f}%) "
                  f"in {len(report.results)} notebooks")
        isolation = sorted({result.isolation for result in report.results if result.isolation})
        if isolation:
            print(f"isolation: {', '.join(isolation)}")
    if report.unusable:
        return EXIT_UNUSABLE
    return EXIT_FULL_MARKS if report.passes(args.pass_mark) else EXIT_NOT_FULL


def run_release(args: argparse.Namespace) -> int:
    from grader.engine.course import course_root
    from grader.engine.release import release

    root = course_root()
    if not (root / "solutions").is_dir():
        print(f"grader release: no solutions/ folder in {root}: release writes exercises/ from the "
              "solution notebooks of a source checkout; run it there (or set GRADER_COURSE_DIR to one)",
              file=sys.stderr)
        return EXIT_UNUSABLE
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
