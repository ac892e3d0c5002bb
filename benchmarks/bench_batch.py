"""Batch grading speed: `grader grade` against `nbgrader autograde` on the same submissions.

Writes N submissions (default 100, a mix of the demo's variants: full marks, partial,
common mistakes, broken, unanswered, tampered), grades them with both tools in the same
run and prints seconds per submission, the ratio and the peak memory of any one process
of `grader grade` (a pool worker, its zygote or a notebook child).
Usage: python benchmarks/bench_batch.py [--count N] [--jobs J]
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

from grader.batch.samples import VARIANTS, write_batch  # noqa: E402

# The infinite loop is left out: it costs each tool its cell timeout, not its speed.
MIX = [name for name in VARIANTS if name != "infinite_loop"]
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def run(command: list[str], cwd: Path, ok_codes: tuple[int, ...] = (0,)) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)
    if done.returncode not in ok_codes:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def nbgrader_course(folder: Path, count: int) -> Path:
    course = folder / "nbgrader"
    write_batch(course, count, MIX, "nbgrader")
    for learner in (course / "submitted").iterdir():  # nbgrader's assignment folder is named "bench"
        (learner / "sample").rename(learner / "bench")
    (course / "source" / "bench").mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / "00_sample.ipynb", course / "source" / "bench")
    students = ", ".join(f"dict(id='{learner.name}')" for learner in sorted((course / "submitted").iterdir()))
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = '.'\nc.CourseDirectory.db_assignments = [dict(name='bench')]\n"
        f"c.CourseDirectory.db_students = [{students}]\n")
    run([sys.executable, "-m", "nbgrader", "generate_assignment", "bench", "--force"], course)
    return course


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_batch(folder / "batch", args.count, MIX, "nbgrader")
        ours = run([sys.executable, "-m", "grader", "grade", str(folder / "batch"), "--out", str(folder / "out"),
                    "--jobs", str(args.jobs)], ROOT)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        # nbgrader exits 1 when some submissions fail to run (the crashed ones): expected here.
        theirs = run([sys.executable, "-m", "nbgrader", "autograde", "bench", "--force"],
                     nbgrader_course(folder, args.count), ok_codes=(0, 1))
    per_ours, per_theirs = ours / args.count, theirs / args.count
    print(f"{args.count} submissions, {args.jobs} jobs, {os.cpu_count()} cores")
    print(f"grader grade:        {per_ours:.3f} s per submission ({ours:.1f} s in all)")
    print(f"nbgrader autograde:  {per_theirs:.3f} s per submission ({theirs:.1f} s in all)")
    print(f"ratio: grader grade is {per_theirs / per_ours:.1f}x faster per submission")
    print(f"peak memory of one grader process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
