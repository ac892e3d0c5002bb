"""Batch grading speed: `grader grade` against `nbgrader autograde` on the same submissions.

Writes N submissions (default 100): four in five are the sample exercise in the demo's
variants (full marks, partial, common mistakes, broken, unanswered, tampered), one in five
the API-hygiene notebook (solution or blank). Grades them with both tools in the same run
and prints seconds per submission, the ratio and the peak memory of any one process of
`grader grade` (a pool worker, its zygote or a notebook child).
Usage: python benchmarks/bench_batch.py [--count N] [--jobs J [J ...]]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.batch.samples import VARIANTS, variant  # noqa: E402

# The infinite loop is left out: it costs each tool its cell timeout, not its speed.
MIX = [name for name in VARIANTS if name != "infinite_loop"]
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def run(command: list[str], cwd: Path, ok_codes: tuple[int, ...] = (0,)) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)
    if done.returncode not in ok_codes:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


API_SHARE = 5  # every 5th learner hands in the API-hygiene notebook (solution or blank, alternately)


def write_course(folder: Path, count: int) -> Path:
    """One course in nbgrader's layout that both tools grade: assignments `sample` and `api_hygiene`."""
    course = folder / "course"
    texts = [variant(name) for name in MIX]
    for index in range(count):
        learner = course / "submitted" / f"learner{index:03d}"
        if index % API_SHARE == API_SHARE - 1:
            source = ROOT / ("solutions" if index % (2 * API_SHARE) == API_SHARE - 1 else "exercises")
            (learner / "api_hygiene").mkdir(parents=True)
            shutil.copy(source / "01_api_hygiene.ipynb", learner / "api_hygiene")
        else:
            (learner / "sample").mkdir(parents=True)
            (learner / "sample" / "00_sample.ipynb").write_text(texts[index % len(texts)], encoding="utf-8")
    for folder_name in ("sample", "api_hygiene"):
        (course / "source" / folder_name).mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / "00_sample.ipynb", course / "source" / "sample")
    shutil.copy(ROOT / "solutions" / "01_api_hygiene.ipynb", course / "source" / "api_hygiene")
    students = ", ".join(f"dict(id='{learner.name}')" for learner in sorted((course / "submitted").iterdir()))
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.root = '.'\n"
        "c.CourseDirectory.db_assignments = [dict(name='sample'), dict(name='api_hygiene')]\n"
        f"c.CourseDirectory.db_students = [{students}]\n")
    return course


def nbgrader_autograde(course: Path) -> float:
    seconds = 0.0
    for assignment in ("sample", "api_hygiene"):
        run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force"], course)
        # nbgrader exits 1 when some submissions fail to run (the crashed ones): expected here.
        seconds += run([sys.executable, "-m", "nbgrader", "autograde", assignment, "--force"], course,
                       ok_codes=(0, 1))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    cores = os.cpu_count() or 1
    parser.add_argument("--jobs", type=int, nargs="+", default=[cores, 2 * cores],
                        help="grader grade --jobs values to time (default: the cores, and twice that)")
    args = parser.parse_args()
    ours: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        course = write_course(Path(tmp), args.count)
        for jobs in args.jobs:
            ours[jobs] = run([sys.executable, "-m", "grader", "grade", str(course / "submitted"), "--out",
                              str(Path(tmp) / f"out-{jobs}"), "--jobs", str(jobs)], ROOT)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        theirs = nbgrader_autograde(course)
    per_theirs = theirs / args.count
    api = len(range(API_SHARE - 1, args.count, API_SHARE))
    print(f"{args.count} submissions ({args.count - api} sample exercise, {api} API hygiene), {cores} cores")
    print(f"nbgrader autograde:            {per_theirs:.3f} s per submission ({theirs:.1f} s in all, serial)")
    for jobs, seconds in ours.items():
        per_ours = seconds / args.count
        print(f"{f'grader grade --jobs {jobs}:':<31}{per_ours:.3f} s per submission ({seconds:.1f} s in all): "
              f"{per_theirs / per_ours:.1f}x faster")
    print(f"peak memory of one grader process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
