"""Classroom 50's ``result.json`` (schema ``classroom50/result/v1``).

The contract is the Classroom 50 wiki page "Advanced Autograding": the runner sets
``CLASSROOM``, ``ASSIGNMENT``, ``SUBMISSION_TAG``, ``COMMIT_URL``, ``RELEASE_URL`` and
``REVIEW_URL``, runs the autograder in the learner's checkout, and reads ``./result.json``.
``owner`` and ``assignment_type`` are stamped by the runner, so they are not written here.
Extra fields on a test are kept by Classroom 50, so each carries the learner feedback.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from grader.ci.names import feedback_text, notebook_label, points, problem_text, test_name
from grader.ci.run import Report
from grader.engine import result as R

SCHEMA = "classroom50/result/v1"
LOCAL = "local"  # identity fields outside a Classroom 50 run (a learner trying it on their machine)


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def submission_instant(checkout: Path) -> str:
    """The graded commit's committer date, as the contract asks (unchanged by a regrade);
    the current time when *checkout* is not a git repository."""
    try:
        stamp = subprocess.run(["git", "-C", str(checkout), "show", "-s", "--format=%ct", "HEAD"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        return _utc(dt.datetime.fromtimestamp(int(stamp), dt.timezone.utc))
    except (OSError, subprocess.SubprocessError, ValueError):
        return _utc(dt.datetime.now(dt.timezone.utc))


def _tests(report: Report) -> list[dict[str, Any]]:
    tests = []
    for result in report.results:
        if result.status == R.INVALID:
            tests.append({"test-name": notebook_label(result), "passed": False, "score": 0, "max-score": 0,
                          "feedback": problem_text(result)})
        for part in result.parts:
            tests.append({"test-name": test_name(result, part), "passed": part.passed,
                          "score": points(part.points), "max-score": points(part.max_points),
                          "feedback": feedback_text(part)})
    return tests


def classroom50_result(report: Report, checkout: Path | None = None,
                       env: dict[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if env is None else env
    commit = env.get("COMMIT_URL") or LOCAL
    return {
        "schema": SCHEMA,
        "classroom": env.get("CLASSROOM") or LOCAL,
        "assignment": env.get("ASSIGNMENT") or LOCAL,
        "submission": env.get("SUBMISSION_TAG") or LOCAL,
        "commit": commit,
        "release": env.get("RELEASE_URL") or LOCAL,
        "review": env.get("REVIEW_URL") or commit,
        "datetime": submission_instant(checkout or Path.cwd()),
        "graded_at": _utc(dt.datetime.now(dt.timezone.utc)),
        "score": points(report.score),
        "max-score": points(report.max_score),
        "tests": _tests(report),
    }


def write_classroom50(report: Report, path: str | Path) -> None:
    path = Path(path)
    result = classroom50_result(report, checkout=path.resolve().parent)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
