"""The same file always gets the same grade and the same feedback (issue 8).

Correct and subtly wrong notebooks of every exercise are graded many times, from one
zygote and from two zygotes grading in parallel (as ``grader grade --jobs 1/2`` does), and
once from a fresh interpreter (as ``grader check`` does); every grading must agree.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader.engine.grade import grade_notebook
from grader.engine.session import Limits
from grader.engine.zygote import ZygoteLauncher
from tests.exercises import mistakes

ROOT = Path(__file__).resolve().parents[2]
LIMITS = Limits(cell_seconds=15, notebook_seconds=120, call_seconds=8, memory_mb=1024)
ROUNDS = {"sample": 4, "api_hygiene": 2, "structured_output": 1, "retrieval_faiss": 1, "tool_agent": 1}

pytestmark = pytest.mark.slow

# Timing decides which answers come first, how many requests overlap; the learner's jitter is random.
API_MISTAKES = ("results_out_of_order", "ignores_retry_after", "unbounded_gather")
# The stub's seeded model mistakes, repair loops, the agent's seeded policy, parallel tool calls.
PILLAR_MISTAKES = {"structured_output": "keeps_only_the_last_error", "retrieval_faiss": "padding_ids_returned",
                   "tool_agent": "answers_only_the_first_parallel_call"}
ONE_ELEMENT_WRONG = ("def mean(values):\n    if len(values) == 1:\n        return 0.0\n"
                     "    return sum(values) / len(values) if values else 0.0\n")


def sample_with_mean(source: str, path: Path) -> Path:
    raw = json.loads((ROOT / "solutions" / "00_sample.ipynb").read_text())
    for cell in raw["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "sample-mean-code":
            cell["source"] = source
    path.write_text(json.dumps(raw))
    return path


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("determinism")
    return {
        "sample correct": ROOT / "solutions" / "00_sample.ipynb",
        "sample wrong for one element": sample_with_mean(ONE_ELEMENT_WRONG, directory / "one.ipynb"),
        "api_hygiene correct": ROOT / "solutions" / "01_api_hygiene.ipynb",
        **{f"api_hygiene {name}": _with_mistake(directory, "api_hygiene", name) for name in API_MISTAKES},
        **{f"{exercise} correct": mistakes.solution_path(exercise) for exercise in PILLAR_MISTAKES},
        **{f"{exercise} {mistake}": _with_mistake(directory, exercise, mistake)
           for exercise, mistake in PILLAR_MISTAKES.items()},
    }


def _with_mistake(directory: Path, exercise: str, name: str) -> Path:
    raw = json.loads(mistakes.solution_path(exercise).read_text())
    return _write(directory / f"{exercise}-{name}.ipynb", mistakes.apply(raw, name, mistakes.load(exercise)[name]))


def _write(path: Path, raw: dict) -> Path:
    path.write_text(json.dumps(raw))
    return path


def fingerprint(result) -> tuple:
    """Everything a learner is told: status, seed, points and feedback of every part."""
    return (result.status, result.seed, result.score,
            tuple((part.id, part.points, tuple(part.feedback)) for part in result.parts))


def grade_all(jobs: list[Path], workers: int) -> list[tuple]:
    local, launchers = threading.local(), []

    def grade(path: Path) -> tuple:
        if not hasattr(local, "launcher"):
            local.launcher = ZygoteLauncher()
            launchers.append(local.launcher)
        return fingerprint(grade_notebook(path, limits=LIMITS, launcher=local.launcher))

    try:
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(grade, jobs))
    finally:
        for launcher in launchers:
            launcher.close()


def test_every_grading_of_a_file_agrees(notebooks):
    jobs = [path for name, path in notebooks.items() for _ in range(ROUNDS[name.split()[0]])]
    paths = list(notebooks.values())
    with ThreadPoolExecutor(2) as pool:  # the one-zygote pass leaves a core free: the fresh interpreters use it
        one_zygote = pool.submit(grade_all, jobs, 1)
        spawned = dict(zip(paths, pool.map(lambda path: fingerprint(grade_notebook(path, limits=LIMITS)), paths),
                           strict=True))  # each from its own fresh interpreter, one after another
        by_workers = {1: one_zygote.result()}
    by_workers[2] = grade_all(jobs, 2)
    for name, path in notebooks.items():
        seen = {fingerprint for workers in by_workers.values()
                for job, fingerprint in zip(jobs, workers, strict=True) if job == path}
        seen.add(spawned[path])
        assert len(seen) == 1, f"{name} got {len(seen)} different results: {seen}"
    scores = {name: spawned[path][2] for name, path in notebooks.items()}
    assert scores["sample correct"] == 3 and scores["sample wrong for one element"] < 3, scores
    assert scores["api_hygiene correct"] == 16, scores
    assert all(scores[f"api_hygiene {name}"] < 16 for name in API_MISTAKES), scores
    for exercise, name in PILLAR_MISTAKES.items():
        assert scores[f"{exercise} {name}"] < scores[f"{exercise} correct"], scores
