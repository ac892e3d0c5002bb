"""``grader mutants NOTEBOOK``: the mutation score of an exercise's checks, per part, with survivors."""

from __future__ import annotations

import argparse
import json
import sys

EXIT_OK, EXIT_BELOW, EXIT_UNUSABLE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "mutants", help="plant small bugs in a solution's answer code and count how many the checks catch")
    parser.add_argument("notebook", nargs="+", help="solution notebook(s) (solutions/NN_name.ipynb)")
    parser.add_argument("--max", type=int, dest="max_mutants", help="grade a random sample of at most N mutants")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    parser.add_argument("--jobs", type=int, help="parallel workers (default: one per core)")
    parser.add_argument("--cache", help="folder of cached verdicts (default: build/mutants-cache in the kit)")
    parser.add_argument("--no-cache", action="store_true", help="grade every mutant again")
    parser.add_argument("--fail-under", type=float, default=0.0,
                        help="exit 1 if any notebook's score is below this (e.g. 0.85)")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    parser.set_defaults(func=run_mutants)


def run_mutants(args: argparse.Namespace) -> int:
    from pathlib import Path

    from grader.engine.course import course_root
    from grader.engine.notebook import InvalidNotebook
    from grader.mutants.cache import VerdictCache
    from grader.mutants.equivalent import BadEquivalents
    from grader.mutants.report import render_report, report_dict
    from grader.mutants.run import MutantGrader, SolutionNotFullMarks, grade_plans, plan

    try:
        plans = [plan(path, max_mutants=args.max_mutants, seed=args.seed) for path in args.notebook]
    except (InvalidNotebook, BadEquivalents) as error:
        print(f"grader mutants: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    cache = None if args.no_cache else VerdictCache(Path(args.cache) if args.cache else
                                                    course_root() / "build" / "mutants-cache")
    interactive = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if interactive:
            print(f"\rgraded {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)

    try:
        with MutantGrader(args.jobs) as grader:
            reports = grade_plans(plans, grader, cache, progress)
    except (SolutionNotFullMarks, LookupError) as error:
        print(f"grader mutants: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    if args.json:
        print(json.dumps([report_dict(report) for report in reports], indent=2))
    else:
        print("\n\n".join(render_report(report) for report in reports))
    return EXIT_BELOW if any(report.score < args.fail_under for report in reports) else EXIT_OK
