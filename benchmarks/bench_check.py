"""How long checking one notebook takes: `grader check` against nbgrader and nbconvert.

Runs each tool on the same notebook in the same run and prints medians and ratios:
  * `grader check` from a cold start (a new process, as a learner runs it),
  * the engine grading from a warm zygote (how batch grading runs each submission),
  * `nbgrader autograde` of the notebook as a one-student submission,
  * `jupyter nbconvert --execute` of the notebook (execution only, no grading),
  * each part's in-notebook `check()` in a warm kernel (the slowest part is shown).
Usage: python benchmarks/bench_check.py [NOTEBOOK] [--repeat N]
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import inspect
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
NBGRADER_CONFIG = """c = get_config()
c.CourseDirectory.root = "."
c.CourseDirectory.db_assignments = [dict(name="bench")]
c.CourseDirectory.db_students = [dict(id="learner")]
"""


# nbgrader runs `alembic` from PATH: make the venv's scripts findable even when it is not activated.
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def timed(command: list[str], cwd: Path, ok_codes=(0,)) -> float:
    started = time.perf_counter()
    run = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if run.returncode not in ok_codes:
        sys.exit(f"{' '.join(command)} failed ({run.returncode}):\n{run.stderr[-2000:]}")
    return elapsed


def grader_check(notebook: Path) -> float:
    return timed([sys.executable, "-m", "grader", "check", str(notebook)], ROOT, ok_codes=(0, 1))


def warm_engine(notebook: Path, repeat: int) -> list[float]:
    from grader.engine.grade import grade_notebook
    from grader.engine.zygote import ZygoteLauncher

    times = []
    with ZygoteLauncher() as launcher:
        grade_notebook(notebook, launcher=launcher)  # warm-up: first stub, first checks import
        for _ in range(repeat):
            started = time.perf_counter()
            grade_notebook(notebook, launcher=launcher)
            times.append(time.perf_counter() - started)
    return times


def nbgrader_autograde(notebook: Path) -> float:
    with tempfile.TemporaryDirectory() as folder:
        course = Path(folder)
        (course / "nbgrader_config.py").write_text(NBGRADER_CONFIG)
        (course / "source" / "bench").mkdir(parents=True)
        shutil.copy(notebook, course / "source" / "bench")
        timed([sys.executable, "-m", "nbgrader", "generate_assignment", "bench", "--force"], course)
        (course / "submitted" / "learner" / "bench").mkdir(parents=True)
        shutil.copy(notebook, course / "submitted" / "learner" / "bench")
        return timed([sys.executable, "-m", "nbgrader", "autograde", "bench", "--force"], course)


def nbconvert_execute(notebook: Path) -> float:
    with tempfile.TemporaryDirectory() as folder:
        return timed([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                      "--output-dir", folder, str(notebook)], ROOT)


def live_checks(notebook: Path, repeat: int) -> dict[str, list[float]]:
    """Each part's in-notebook check(), in a warm kernel-like process: seconds per part."""
    from grader.engine.clock import _real_perf_counter, install
    from grader.engine.live import check

    install()  # as importing grader in a kernel does
    namespace: dict = {"__name__": "__main__"}
    parts = []
    for cell in json.loads(notebook.read_text())["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("grade"):
            parts.append(meta["grade_id"])
        elif cell["cell_type"] == "code":  # as a kernel runs it, top-level await included
            code = compile("".join(cell["source"]), "<cell>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
                           dont_inherit=True)  # not this file's `from __future__ import annotations`
            outcome = eval(code, namespace)
            if inspect.iscoroutine(outcome):
                asyncio.run(outcome)
    check(parts[0], namespace=namespace)  # first call starts the kernel's stub
    times: dict[str, list[float]] = {part: [] for part in parts}
    for _ in range(repeat):
        for part in parts:
            started = _real_perf_counter()  # time.perf_counter includes virtual sleeps
            check(part, namespace=namespace)
            times[part].append(_real_perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", default=str(ROOT / "solutions" / "00_sample.ipynb"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    notebook = Path(args.notebook).resolve()

    results = {
        "grader check (cold process)": [grader_check(notebook) for _ in range(args.repeat)],
        "grader engine, warm zygote": warm_engine(notebook, args.repeat * 2),
        "nbgrader autograde": [nbgrader_autograde(notebook) for _ in range(max(3, args.repeat // 2))],
        "nbconvert --execute": [nbconvert_execute(notebook) for _ in range(max(3, args.repeat // 2))],
    }
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        per_part = live_checks(notebook, args.repeat * 2)
    slowest = max(per_part, key=lambda part: statistics.median(per_part[part]))
    results[f"check('{slowest}'), slowest part"] = per_part[slowest]

    ours = statistics.median(results["grader engine, warm zygote"])
    print(f"notebook: {notebook.relative_to(ROOT) if notebook.is_relative_to(ROOT) else notebook}")
    print(f"{'tool':<34}{'median s':>10}{'min s':>9}{'runs':>6}{'vs warm engine':>16}")
    for name, times in results.items():
        median = statistics.median(times)
        print(f"{name:<34}{median:>10.3f}{min(times):>9.3f}{len(times):>6}{median / ours:>15.1f}x")


if __name__ == "__main__":
    main()
