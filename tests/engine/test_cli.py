"""`grader check` and `grader release` as a learner and CI use them: output and exit codes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def grader(*args, env=None):
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **(env or {})}, timeout=120)


def test_full_marks_exit_0_with_a_table():
    run = grader("check", "solutions/00_sample.ipynb")
    assert run.returncode == 0, run.stderr
    assert "3 / 3 points" in run.stdout and "sample-mean" in run.stdout and "PASS" in run.stdout


def test_not_full_marks_exit_1_and_json_has_the_result_fields():
    run = grader("check", "exercises/00_sample.ipynb", "--json", "--seed", "5")
    assert run.returncode == 1, run.stderr
    result = json.loads(run.stdout)
    assert {"exercise", "score", "max_score", "status", "parts"} <= set(result)
    assert (result["exercise"], result["score"], result["max_score"], result["status"], result["seed"]) == (
        "sample", 0, 3, "graded", 5)
    part = result["parts"][0]
    assert {"id", "points", "max_points", "passed", "feedback"} <= set(part)
    assert part["passed"] is False and "Not answered yet" in part["feedback"][0]


@pytest.mark.parametrize(("content", "expected"), [
    ("", "the file is empty"), ("[1, 2", "not valid JSON"),
    ('{"nbformat": 3, "worksheets": []}', "notebook format 3 is not supported"),
])
def test_unusable_input_is_one_line_on_stderr_and_exit_2(tmp_path, content, expected):
    path = tmp_path / "broken.ipynb"
    path.write_text(content)
    run = grader("check", str(path))
    assert run.returncode == 2
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and expected in lines[0]


def test_missing_file_exit_2():
    run = grader("check", "nowhere.ipynb")
    assert run.returncode == 2 and "nowhere.ipynb: no such file" in run.stderr


def test_release_check_fails_naming_the_stale_file(tmp_path):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "00_sample.ipynb").write_bytes((ROOT / "solutions" / "00_sample.ipynb").read_bytes())
    course = {"GRADER_COURSE_DIR": str(tmp_path)}
    run = grader("release", "--check", env=course)
    assert run.returncode == 1 and "exercises/00_sample.ipynb is out of date" in run.stderr
    run = grader("release", env=course)
    assert run.returncode == 0 and (tmp_path / "exercises" / "00_sample.ipynb").exists()
    run = grader("release", "--check", env=course)
    assert (run.returncode, run.stdout) == (0, "grader release --check: exercises/ is up to date with solutions/ "
                                                "(1 notebook)\n")


@pytest.mark.parametrize(("command", "defaults"), [
    ("grade", ["--timeout TIMEOUT", "(default: 180)", "(default: 30)", "MB (default:"]),
    ("check", ["(default: 180)", "(default: 30)", "(default: 10)", "MB (default:"]),
])
def test_help_shows_the_default_limits(command, defaults):
    run = grader(command, "--help")
    text = " ".join(run.stdout.split())
    assert run.returncode == 0 and all(" ".join(d.split()) in text for d in defaults), run.stdout
