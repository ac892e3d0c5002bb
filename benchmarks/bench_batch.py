"""Batch grading speed on what a class hands in: `grader grade` against `nbgrader autograde`.

For every exercise in `solutions/`, the same number of submissions: the solution, the blank
exercise and the solution with one common mistake each (`tests/exercises/mistakes/`, cycled),
the sample exercise with its realistic variants (`grader.batch.samples.VARIANTS`, without the
infinite loop, which costs every tool its time limit, not its speed). Each exercise's cohort
is graded by both tools back to back, ours then nbgrader, in every repeat: the machine's
speed drifts by tens of per cent over the half hour a run takes, and a ratio taken from
measurements minutes apart moves with it. Prints per exercise and overall the median seconds
per submission over the repeats, the median of the repeats' ratios, and the peak memory of
any one process of `grader grade` (a pool worker, its zygote or a child).

Where our time goes, per exercise (medians, from the gradebook): a submission's learner cells
and its checks (seconds of one worker; --jobs of them run at once), and the batch's fixed
cost (starting the workers and their zygotes, the gradebook, exports, feedback pages and the
report): wall time minus the grading time divided among the jobs.

The overall figure is "whole class": the same submissions as one class hands them in, every
learner with every exercise, graded in one `grader grade` run (as an instructor grades a class
and as the README's demo does), against nbgrader's per-assignment runs over the same class.
"batches pooled" adds up the per-exercise batches instead, each paying a batch's start-up
(about 2 s, a third of our time for 20 submissions).
Usage: python benchmarks/bench_batch.py [--per-exercise N] [--jobs J] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import os
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


def run(command: list[str], cwd: Path, ok_codes: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """Wall seconds of *command*, and the peak memory in MB of any one process it ran."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)  # the usage of this command alone, its processes included
        wall = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        if code not in ok_codes:
            stderr.seek(0)
            sys.exit(f"{' '.join(command)} failed ({code}):\n{stderr.read()[-2000:].decode(errors='replace')}")
    return wall, usage.ru_maxrss / 1024


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


def grade(submissions: Path, out: Path, jobs: int) -> tuple[float, float]:
    return run([sys.executable, "-m", "grader", "grade", str(submissions), "--out", str(out), "--jobs", str(jobs)],
               ROOT)


def paired_ratio(baseline: list[float], ours: list[float]) -> float:
    """The median over the repeats of baseline / ours, each pair measured minutes apart."""
    return statistics.median(b / o for b, o in zip(baseline, ours, strict=True))


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
    return run([sys.executable, "-m", "nbgrader", "autograde", exercise, "--force"], course, ok_codes=(0, 1))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-exercise", type=int, default=12, help="submissions of each exercise")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="grader grade --jobs (default: cores)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ours: dict[str, list[float]] = {}
    theirs: dict[str, list[float]] = {}
    parts: dict[str, list[tuple[float, float, float]]] = {}  # (cells, checks, fixed) per repeat
    peak_mb = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        courses = [write_course(Path(tmp), solution, args.per_exercise)
                   for solution in sorted((ROOT / "solutions").glob("*.ipynb"))]
        whole_class = write_class(Path(tmp) / "class", courses)
        for attempt in range(args.repeat):
            for exercise, course in courses:
                out = Path(tmp) / f"out-{exercise}-{attempt}"
                wall, peak = grade(course / "submitted", out, args.jobs)
                ours.setdefault(exercise, []).append(wall)
                theirs.setdefault(exercise, []).append(nbgrader_autograde(exercise, course))
                cells, checks = breakdown(out)
                parts.setdefault(exercise, []).append((cells, checks, wall - graded_seconds(out) / args.jobs))
                peak_mb = max(peak_mb, peak)
            wall, peak = grade(whole_class, Path(tmp) / f"out-class-{attempt}", args.jobs)
            ours.setdefault(CLASS, []).append(wall)
            peak_mb = max(peak_mb, peak)
    n, exercises = args.per_exercise, list(theirs)
    print(f"{n} submissions per exercise (solution, blank, common mistakes), grader grade --jobs {args.jobs}, "
          f"nbgrader autograde serial, back to back; medians of {args.repeat}: seconds per submission, "
          "and the ratio of each repeat's pair")
    print(f"{'exercise':<20} {'grader grade':>13} {'nbgrader':>9} {'ratio':>7}   ours: cells + checks per "
          f"submission (one worker), fixed per batch")
    for exercise in exercises:
        cells, checks, fixed = (statistics.median(values) for values in zip(*parts[exercise], strict=True))
        ratio = paired_ratio(theirs[exercise], ours[exercise])
        print(f"{exercise:<20} {statistics.median(ours[exercise]) / n:>12.3f}s "
              f"{statistics.median(theirs[exercise]) / n:>8.3f}s {ratio:>6.1f}x   "
              f"{cells:.3f} s + {checks:.3f} s, {fixed:.2f} s")
    base = [sum(theirs[exercise][i] for exercise in exercises) for i in range(args.repeat)]
    mine = [sum(ours[exercise][i] for exercise in exercises) for i in range(args.repeat)]
    total = n * len(exercises)
    print(f"{'batches pooled':<20} {statistics.median(mine) / total:>12.3f}s {statistics.median(base) / total:>8.3f}s "
          f"{paired_ratio(base, mine):>6.1f}x   the {len(exercises)} batches above, each paying a batch's start-up")
    print(f"{CLASS:<20} {statistics.median(ours[CLASS]) / total:>12.3f}s {statistics.median(base) / total:>8.3f}s "
          f"{paired_ratio(base, ours[CLASS]):>6.1f}x   overall: {total} submissions ({n} learners x "
          f"{len(exercises)} exercises) in one batch, against the repeat's nbgrader runs")
    print(f"peak memory of one grader process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
