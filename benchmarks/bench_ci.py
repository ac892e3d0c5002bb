"""How long CI takes to grade a repository: the pytest plugin and `grader check FOLDER`
against `grader check` run once per notebook (the baseline: what a CI script looping over
notebooks would do), in the same run, medians of --repeat runs.

The repository is a copy of every solution and every exercise notebook of the kit.
Usage: python benchmarks/bench_ci.py [--repeat N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str], cwd: Path, ok_codes=(0, 1)) -> float:
    started = time.perf_counter()
    run = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if run.returncode not in ok_codes:
        sys.exit(f"{' '.join(command)} failed ({run.returncode}):\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch)
        for folder in ("solutions", "exercises"):
            for notebook in (ROOT / folder).glob("*.ipynb"):
                shutil.copy(notebook, repo / f"{folder}-{notebook.name}")
        notebooks = sorted(repo.glob("*.ipynb"))
        grader = [sys.executable, "-m", "grader", "check"]
        ways = {
            "grader check, once per notebook (baseline)": lambda: sum(
                timed([*grader, str(notebook)], repo) for notebook in notebooks),
            "grader check FOLDER": lambda: timed([*grader, "."], repo),
            "pytest FOLDER (plugin)": lambda: timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                                     "."], repo),
        }
        medians = {name: statistics.median(way() for _ in range(args.repeat)) for name, way in ways.items()}
    baseline = medians["grader check, once per notebook (baseline)"]
    print(f"{len(notebooks)} notebooks, median of {args.repeat} runs")
    for name, seconds in medians.items():
        print(f"  {name:<45} {seconds:6.2f} s  ({baseline / seconds:.2f}x the baseline's speed)")


if __name__ == "__main__":
    main()
