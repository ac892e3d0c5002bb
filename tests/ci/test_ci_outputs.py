"""`grader check` over several notebooks and folders, and the CI files it writes: each is
validated against its schema and its totals must equal those of `grader check --json`."""

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import jsonschema
import pytest
import xmlschema

from tests.ci.conftest import SCHEMAS, clean_env, write_sample

COMMIT_DATE = "2026-06-01T14:32:05+00:00"
CLASSROOM_ENV = {"CLASSROOM": "cs-ai", "ASSIGNMENT": "sample", "SUBMISSION_TAG": "submit/2026-06-01T14-32-05Z",
                 "COMMIT_URL": "https://example.org/commit/abc", "RELEASE_URL": "https://example.org/release/1"}


def grader(*args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, env=env or clean_env(), timeout=600)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One `grader check` of a learner repository (a git checkout) writing every CI output."""
    repo = tmp_path_factory.mktemp("repo")
    write_sample(repo / "solution.ipynb", "solution")
    (repo / "work").mkdir()
    write_sample(repo / "work" / "wrong.ipynb", "wrong")
    write_sample(repo / "work" / "exercise.ipynb", "exercise")
    (repo / "work" / "notes.ipynb").write_text("my notes, not a notebook")
    (repo / "work" / "scratch.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    (repo / "work" / ".ipynb_checkpoints").mkdir()
    write_sample(repo / "work" / ".ipynb_checkpoints" / "wrong-checkpoint.ipynb", "wrong")
    git_env = clean_env(GIT_AUTHOR_DATE=COMMIT_DATE, GIT_COMMITTER_DATE=COMMIT_DATE, GIT_AUTHOR_NAME="a",
                        GIT_AUTHOR_EMAIL="a@example.org", GIT_COMMITTER_NAME="a", GIT_COMMITTER_EMAIL="a@example.org")
    for command in (["init", "-q"], ["add", "."], ["commit", "-qm", "work"]):
        subprocess.run(["git", *command], cwd=repo, check=True, env=git_env)
    summary = repo / "summary.md"
    summary.write_text("earlier step\n")
    done = grader("check", "solution.ipynb", "work", "--json", "--junit", "junit.xml", "--classroom50",
                  "result.json", cwd=repo, env=clean_env(GITHUB_STEP_SUMMARY=str(summary), **CLASSROOM_ENV))
    return repo, done, json.loads(done.stdout)


def test_several_notebooks_and_folders_are_graded_and_totalled(run):
    _, done, report = run
    names = [n["notebook"] for n in report["notebooks"]]
    # scratch.ipynb names no kit exercise and sits in a folder: the learner's own, left alone
    assert names == ["solution.ipynb", "work/exercise.ipynb", "work/notes.ipynb", "work/wrong.ipynb"]
    by_name = {n["notebook"]: n for n in report["notebooks"]}
    assert (by_name["solution.ipynb"]["score"], by_name["solution.ipynb"]["max_score"]) == (3, 3)
    assert (by_name["work/exercise.ipynb"]["score"], by_name["work/exercise.ipynb"]["max_score"]) == (0, 3)
    assert by_name["work/notes.ipynb"]["status"] == "invalid_notebook"
    assert 0 < by_name["work/wrong.ipynb"]["score"] < 3
    assert report["score"] == sum(n["score"] for n in report["notebooks"])
    assert report["max_score"] == 9
    assert done.returncode == 2, "a notebook that cannot be graded makes the run unusable"


def test_junit_is_valid_and_agrees_with_json(run):
    repo, _, report = run
    xmlschema.XMLSchema(SCHEMAS / "junit-10.xsd").validate(repo / "junit.xml")
    root = ET.parse(repo / "junit.xml").getroot()
    suites = root.findall("testsuite")

    def prop(suite, name):
        return float(suite.find(f"properties/property[@name='{name}']").get("value"))

    assert sum(prop(s, "score") for s in suites) == report["score"]
    assert sum(prop(s, "max_score") for s in suites) == report["max_score"]
    cases = root.findall("testsuite/testcase")
    assert int(root.get("tests")) == len(cases) == sum(len(n["parts"]) for n in report["notebooks"]) + 1
    failed = [p for n in report["notebooks"] for p in n["parts"] if not p["passed"]]
    assert int(root.get("failures")) == len(failed) and int(root.get("errors")) == 1
    wrong_mean = next(c for c in cases if c.get("classname") == "sample" and c.get("name") == "sample-mean"
                      and c.find("failure") is not None and "Hint:" in c.find("failure").text)
    assert "Hint:" in wrong_mean.find("failure").get("message")
    error = root.find("testsuite/testcase/error")
    assert "notes.ipynb" in error.get("message") and "not valid JSON" in error.get("message")


def test_step_summary_is_appended_with_the_same_totals(run):
    repo, _, report = run
    text = (repo / "summary.md").read_text()
    assert text.startswith("earlier step\n"), "GitHub's summary file is appended to, never replaced"
    assert f"## Grader: {report['score']:g} / {report['max_score']:g} points" in text
    assert "| sample | sample-mean | 0 / 1 | fail | Not answered yet" in text
    assert "| notes.ipynb | | | could not be graded |" in text


def test_classroom50_result_follows_the_contract_and_agrees_with_json(run):
    repo, _, report = run
    result = json.loads((repo / "result.json").read_text())
    jsonschema.validate(result, json.loads((SCHEMAS / "classroom50-result-v1.schema.json").read_text()))
    assert result["score"] == report["score"] and result["max-score"] == report["max_score"]
    assert isinstance(result["max-score"], int), "whole points are integers, as the contract asks"
    assert sum(t["score"] for t in result["tests"]) == result["score"]
    assert sum(t["max-score"] for t in result["tests"]) == result["max-score"]
    assert {k: result[k] for k in ("classroom", "assignment", "submission", "commit", "release")} == {
        "classroom": "cs-ai", "assignment": "sample", "submission": "submit/2026-06-01T14-32-05Z",
        "commit": "https://example.org/commit/abc", "release": "https://example.org/release/1"}
    assert result["review"] == result["commit"], "REVIEW_URL unset: the commit view, as the wiki's templates do"
    assert result["datetime"] == "2026-06-01T14:32:05Z", "the graded commit's date, not the grading time"
    failing = next(t for t in result["tests"] if not t["passed"] and "Hint:" in t["feedback"])
    assert failing["test-name"] == "sample::sample-mean"


@pytest.mark.parametrize(("pass_mark", "status"), [("80", 0), ("90%", 1), ("100", 1), ("0", 0)])
def test_exit_status_follows_the_pass_mark(sample, tmp_path, pass_mark, status):
    sample("wrong")  # 2.5 of 3 points (83%): half of sample-mean's checks fail
    done = grader("check", "wrong.ipynb", "--pass-mark", pass_mark, cwd=tmp_path)
    assert done.returncode == status, done.stdout + done.stderr


def test_a_folder_without_exercise_notebooks_is_a_clear_error(tmp_path):
    (tmp_path / "answers.txt").write_text("42")
    (tmp_path / "scratch.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    done = grader("check", ".", cwd=tmp_path)
    assert done.returncode == 2 and "no exercise notebooks in ." in done.stderr


def test_pass_mark_outside_0_to_100_is_refused(tmp_path):
    done = grader("check", "x.ipynb", "--pass-mark", "120", cwd=tmp_path)
    assert done.returncode == 2 and "percentage from 0 to 100" in done.stderr


def test_release_outside_a_checkout_fails_naming_the_folder(tmp_path):
    done = grader("release", cwd=tmp_path, env=clean_env(GRADER_COURSE_DIR=str(tmp_path)))
    assert done.returncode == 2
    assert f"no solutions/ folder in {tmp_path}" in done.stderr
    assert not (tmp_path / "exercises").exists()
