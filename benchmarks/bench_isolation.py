"""What the sandbox costs per submission: grading with namespaces against process isolation only.

First the set-up alone: fork a child, isolate it, exit, with namespaces and without. Then, for
each notebook (by default the solution and the blank exercise of every exercise in the kit,
as a class hands them in), grade it from a warm zygote, as batch grading does, with
``--isolation auto`` (namespaces, if the machine allows) and ``--isolation process``,
interleaved so both see the same machine load. Prints medians, the difference and the ratio,
per notebook and overall.
Usage: python benchmarks/bench_isolation.py [NOTEBOOK ...] [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def default_notebooks() -> list[Path]:
    solutions = sorted((ROOT / "solutions").glob("*.ipynb"))
    return [path for solution in solutions for path in (solution, ROOT / "exercises" / solution.name)]


def setup_seconds(mode: str, repeat: int) -> float:
    """Median time to fork a child, isolate it at *mode* and reap it (no notebook)."""
    import os
    import tempfile

    from grader.engine.isolation import enter, policy_for

    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="grader-bench-") as scratch:
            started = time.perf_counter()
            pid = os.fork()
            if pid == 0:
                enter(policy_for(mode, Path(scratch)))
                os._exit(0)
            os.waitpid(pid, 0)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    from grader.engine.grade import grade_notebook
    from grader.engine.isolation import probe
    from grader.engine.session import Limits
    from grader.engine.zygote import ZygoteLauncher

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    notebooks = args.notebooks or default_notebooks()
    levels = {"auto": probe("auto"), "process": probe("process")}
    print(f"isolation levels: auto = {levels['auto']!r}, process = {levels['process']!r}")
    sandbox, bare = setup_seconds("auto", 20), setup_seconds("process", 20)
    print(f"fork + isolate + exit, median of 20: namespaces {sandbox * 1000:.1f} ms, process only "
          f"{bare * 1000:.1f} ms: the sandbox adds {(sandbox - bare) * 1000:.1f} ms per child")
    times: dict[str, dict[Path, list[float]]] = {mode: {path: [] for path in notebooks} for mode in levels}
    with ZygoteLauncher() as launcher:
        for path in notebooks:  # warm-up: the first stub, the first import of each checks module
            grade_notebook(path, launcher=launcher)
        for _ in range(args.repeat):
            for path in notebooks:
                for mode in levels:
                    started = time.perf_counter()
                    grade_notebook(path, launcher=launcher, limits=Limits(isolation=mode))
                    times[mode][path].append(time.perf_counter() - started)
    print(f"{'notebook':<40} {'namespaces':>11} {'process':>9} {'extra':>8} {'ratio':>6}")
    for path in notebooks:
        auto, process = statistics.median(times["auto"][path]), statistics.median(times["process"][path])
        name = f"{path.parent.name}/{path.name}"
        print(f"{name:<40} {auto:>10.3f}s {process:>8.3f}s {auto - process:>+7.3f}s {auto / process:>6.2f}")
    auto = statistics.median([sum(t[i] for t in times["auto"].values()) for i in range(args.repeat)])
    process = statistics.median([sum(t[i] for t in times["process"].values()) for i in range(args.repeat)])
    count = len(notebooks)
    print(f"{'all, per submission':<40} {auto / count:>10.3f}s {process / count:>8.3f}s "
          f"{(auto - process) / count:>+7.3f}s {auto / process:>6.2f}")


if __name__ == "__main__":
    main()
