"""Batch grading speed on what a class hands in: `grader grade` against `nbgrader autograde`.

For every exercise in `solutions/`, the same number of submissions: the solution, the blank
exercise and the solution with one common mistake each (`tests/exercises/mistakes/`, cycled),
the sample exercise with its realistic variants (`grader.batch.samples.VARIANTS`, without the
infinite loop, which costs every tool its time limit, not its speed). Each exercise's cohort
is graded by both tools in the same run (ours first, so the peak memory is ours); prints per
exercise and overall the median seconds per submission over the repeats, the ratio, and the
peak memory of any one process of `grader grade` (a pool worker, its zygote or a child).

Where our time goes, per exercise (medians, from the gradebook): a submission's learner cells
and its checks (seconds of one worker; --jobs of them run at once), and the batch's fixed
cost (starting the workers and their zygotes, the gradebook, exports, feedback pages and the
report): wall time minus the grading time divided among the jobs.

"overall" sums one batch per exercise. "whole class" grades the same submissions as one
class hands them in, every learner with every exercise, in one `grader grade` run (as the
README's demo does), against nbgrader's per-assignment runs over the same class.
Usage: python benchmarks/bench_batch.py [--per-exercise N] [--jobs J] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.batch.samples import VARIANTS, variant  # noqa: E402
from tests.exercises import mistakes  # noqa: E402

CLASS = "whole class"
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def run(command: list[str], cwd: Path, ok_codes: tuple[int, ...] = (0,)) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)
    if done.returncode not in ok_codes:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def submissions(solution: Path, count: int) -> list[str]:
    """*count* notebooks of one exercise, as a class hands them in."""
    raw = json.loads(solution.read_text())
    exercise = raw["metadata"]["grader"]["exercise"]
    if exercise == "sample":
        texts = [variant(name) for name in VARIANTS if name != "infinite_loop"]
    else:
        wrong = [json.dumps(mistakes.apply(raw, name, mistake)) for name, mistake in
                 sorted(mistakes.load(exercise).items())]
        texts = [solution.read_text(), (ROOT / "exercises" / solution.name).read_text(), *wrong]
    return [texts[index % len(texts)] for index in range(count)]


def write_course(folder: Path, solution: Path, count: int) -> tuple[str, Path]:
    """One nbgrader course with one assignment, named after the exercise; returns (name, course)."""
    exercise = json.loads(solution.read_text())["metadata"]["grader"]["exercise"]
    course = folder / exercise
    for index, text in enumerate(submissions(solution, count)):
        target = course / "submitted" / f"learner{index:03d}" / exercise
        target.mkdir(parents=True)
        (target / solution.name).write_text(text, encoding="utf-8")
    (course / "source" / exercise).mkdir(parents=True)
    shutil.copy(solution, course / "source" / exercise)
    students = ", ".join(f"dict(id='learner{index:03d}')" for index in range(count))
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.root = '.'\n"
        f"c.CourseDirectory.db_assignments = [dict(name='{exercise}')]\n"
        f"c.CourseDirectory.db_students = [{students}]\n")
    return exercise, course


def write_class(folder: Path, courses: list[tuple[str, Path]]) -> Path:
    """Every course's submissions in one nbgrader ``submitted/`` folder: learner, then exercise."""
    for _, course in courses:
        shutil.copytree(course / "submitted", folder / "submitted", dirs_exist_ok=True)
    return folder / "submitted"


def breakdown(out: Path) -> tuple[float, float]:
    """Median seconds per submission of running the learner's cells, and of the rest (checks)."""
    import sqlite3

    with sqlite3.connect(out / "gradebook.sqlite") as book:
        results = [json.loads(text) for (text,) in book.execute("SELECT result FROM results")]
    cells = [result.get("cells_seconds", 0.0) for result in results]
    rest = [result["seconds"] - result.get("cells_seconds", 0.0) for result in results]
    return statistics.median(cells), statistics.median(rest)


def graded_seconds(out: Path) -> float:
    import sqlite3

    with sqlite3.connect(out / "gradebook.sqlite") as book:
        return sum(seconds for (seconds,) in book.execute("SELECT seconds FROM results"))


def nbgrader_autograde(exercise: str, course: Path) -> float:
    run([sys.executable, "-m", "nbgrader", "generate_assignment", exercise, "--force"], course)
    # nbgrader exits 1 when some submissions fail to run (the broken ones): expected here.
    return run([sys.executable, "-m", "nbgrader", "autograde", exercise, "--force"], course, ok_codes=(0, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-exercise", type=int, default=12, help="submissions of each exercise")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="grader grade --jobs (default: cores)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ours: dict[str, list[float]] = {}
    theirs: dict[str, list[float]] = {}
    parts: dict[str, list[tuple[float, float, float]]] = {}  # (cells, checks, fixed) per repeat
    with tempfile.TemporaryDirectory() as tmp:
        courses = [write_course(Path(tmp), solution, args.per_exercise)
                   for solution in sorted((ROOT / "solutions").glob("*.ipynb"))]
        whole_class = write_class(Path(tmp) / "class", courses)
        for attempt in range(args.repeat):
            ours.setdefault(CLASS, []).append(run([sys.executable, "-m", "grader", "grade", str(whole_class), "--out",
                                                   str(Path(tmp) / f"out-class-{attempt}"), "--jobs", str(args.jobs)],
                                                  ROOT))
            for exercise, course in courses:
                out = Path(tmp) / f"out-{exercise}-{attempt}"
                wall = run([sys.executable, "-m", "grader", "grade", str(course / "submitted"), "--out", str(out),
                            "--jobs", str(args.jobs)], ROOT)
                ours.setdefault(exercise, []).append(wall)
                cells, checks = breakdown(out)
                parts.setdefault(exercise, []).append((cells, checks, wall - graded_seconds(out) / args.jobs))
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # before nbgrader runs
        for _ in range(args.repeat):
            for exercise, course in courses:
                theirs.setdefault(exercise, []).append(nbgrader_autograde(exercise, course))
    n = args.per_exercise
    print(f"{n} submissions per exercise (solution, blank, common mistakes), grader grade --jobs {args.jobs}, "
          f"nbgrader autograde serial; medians of {args.repeat}, seconds per submission")
    print(f"{'exercise':<20} {'grader grade':>13} {'nbgrader':>9} {'ratio':>7}   ours: cells + checks per "
          f"submission (one worker), fixed per batch")
    for exercise in theirs:
        mine, base = statistics.median(ours[exercise]) / n, statistics.median(theirs[exercise]) / n
        cells, checks, fixed = (statistics.median(values) for values in zip(*parts[exercise], strict=True))
        print(f"{exercise:<20} {mine:>12.3f}s {base:>8.3f}s {base / mine:>6.1f}x   "
              f"{cells:.3f} s + {checks:.3f} s, {fixed:.2f} s")
    mine = statistics.median([sum(ours[exercise][i] for exercise in theirs) for i in range(args.repeat)])
    base = statistics.median([sum(times[i] for times in theirs.values()) for i in range(args.repeat)])
    total = n * len(theirs)
    print(f"{'overall':<20} {mine / total:>12.3f}s {base / total:>8.3f}s {base / mine:>6.1f}x   one batch per exercise")
    mine = statistics.median(ours[CLASS])
    print(f"{CLASS:<20} {mine / total:>12.3f}s {base / total:>8.3f}s {base / mine:>6.1f}x   "
          f"{total} submissions ({n} learners x {len(theirs)} exercises) in one batch")
    print(f"peak memory of one grader process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
