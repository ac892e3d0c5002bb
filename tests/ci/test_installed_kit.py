"""The kit as learners and platforms get it: a wheel installed into a fresh venv, grading
from any folder, and the integrations (GitHub Actions workflow, Classroom 50 autograder,
Gradescope autograder zip) each run end to end against that installed kit."""

import json
import os
import shlex
import subprocess
import sys
import zipfile

import jsonschema
import pytest
import yaml

from tests.ci.conftest import SCHEMAS, clean_env, fresh_venv, write_sample


def run(command, cwd, env=None, **kwargs):
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env or clean_env(),
                          timeout=600, **kwargs)


def on_path(bin_dir, **extra):
    """A shell whose `python` and `grader` are the fresh venv's."""
    return clean_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **extra)


def test_wheel_ships_the_course_but_never_solutions_or_tests(kit_wheel):
    names = zipfile.ZipFile(kit_wheel).namelist()
    assert "grader/_course/exercises/00_sample.ipynb" in names
    assert "grader/_course/exercises/01_api_hygiene.ipynb" in names
    assert "grader/_course/datasets/scifact/corpus.jsonl.gz" in names
    assert "grader/checks/api_hygiene.py" in names and "grader/ci/templates/grade.yml" in names
    assert not [n for n in names if n.startswith(("solutions/", "tests/", "grader/_course/solutions"))]
    assert not [n for n in names if "sample_submissions" in n], "made from solutions: not for learners"
    assert "grader = grader.ci.pytest_plugin" in zipfile.ZipFile(kit_wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode()


def test_installed_kit_grades_in_any_folder(installed_kit, tmp_path):
    write_sample(tmp_path / "mine.ipynb", "solution")
    write_sample(tmp_path / "theirs.ipynb", "exercise")
    done = run([installed_kit / "grader", "check", "mine.ipynb", "theirs.ipynb", "--json"], cwd=tmp_path)
    report = json.loads(done.stdout)
    assert (report["score"], report["max_score"]) == (3, 6), done.stderr
    where = run([installed_kit / "python", "-c", "import grader.engine.course as c; print(c.course_root())"],
                cwd=tmp_path).stdout
    assert "site-packages/grader/_course" in where, "graded against the installed package, not the checkout"


def test_installed_kit_refuses_release_clearly(installed_kit, tmp_path):
    done = run([installed_kit / "grader", "release"], cwd=tmp_path)
    assert done.returncode == 2 and "no solutions/ folder in" in done.stderr and "_course" in done.stderr
    assert not list(tmp_path.iterdir())


def test_installed_pytest_plugin_grades_a_repository(installed_kit, tmp_path):
    (tmp_path / "exercises").mkdir()
    write_sample(tmp_path / "exercises" / "00_sample.ipynb", "solution")
    done = run([installed_kit / "python", "-m", "pytest", "exercises", "-p", "no:cacheprovider"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout
    assert "score: 3 / 3 points (100%)" in done.stdout


def test_learners_workflow_installs_the_kit_and_grades_on_push(kit_wheel, tmp_path):
    """Every `run:` step of the written workflow, in order, in a learner's repository on a
    runner whose Python has no kit yet (the `uses:` steps are GitHub's checkout and Python)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    write_sample(repo / "00_sample.ipynb", "wrong")
    bin_dir = fresh_venv(tmp_path / "runner")
    assert run([bin_dir / "python", "-c", "import grader"], cwd=repo).returncode != 0, "the runner has no kit yet"
    kit = run([sys.executable, "-m", "grader", "ci", "workflow", "--install", str(kit_wheel), "--pass-mark", "80"],
              cwd=repo)
    assert kit.returncode == 0, kit.stderr
    workflow = yaml.safe_load((repo / ".github" / "workflows" / "grade.yml").read_text())
    assert workflow["permissions"] == {"contents": "read"}
    steps = workflow["jobs"]["grade"]["steps"]
    assert "secrets." not in json.dumps(workflow)
    summary = tmp_path / "step-summary.md"
    for step in steps:
        if "run" in step:
            env = on_path(bin_dir, GITHUB_STEP_SUMMARY=str(summary))
            done = run(["bash", "-e", "-c", step["run"]], cwd=repo, env=env)
            assert done.returncode == 0, f"{step['run']}\n{done.stdout}\n{done.stderr}"
    assert "## Grader: 2.5 / 3 points (83%), passed (pass mark 80%)" in summary.read_text()
    assert (repo / "grader-junit.xml").is_file()


def test_classroom50_autograder_writes_a_valid_result(installed_kit, kit_wheel, tmp_path):
    checkout = tmp_path / "learner"
    checkout.mkdir()
    write_sample(checkout / "00_sample.ipynb", "exercise")
    autograder = tmp_path / "bundle" / "autograder.py"
    made = run([installed_kit / "grader", "ci", "classroom50", "--install", str(kit_wheel), "--out", str(autograder)],
               cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    env = on_path(installed_kit, CLASSROOM="cs-ai", ASSIGNMENT="sample", SUBMISSION_TAG="submit/1",
                  COMMIT_URL="https://example.org/c/1", RELEASE_URL="https://example.org/r/1",
                  REVIEW_URL="https://example.org/compare/1")
    done = run([installed_kit / "python", str(autograder)], cwd=checkout, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((checkout / "result.json").read_text())
    jsonschema.validate(result, json.loads((SCHEMAS / "classroom50-result-v1.schema.json").read_text()))
    assert (result["score"], result["max-score"], result["review"]) == (0, 3, "https://example.org/compare/1")
    assert [t["test-name"] for t in result["tests"]] == ["sample::sample-mean", "sample::sample-ask"]
    assert all("Not answered yet" in t["feedback"] for t in result["tests"])


@pytest.fixture
def gradescope(installed_kit, kit_wheel, tmp_path):
    """A folder laid out as Gradescope lays out /autograder, with the zip unpacked in source/."""
    zip_path = tmp_path / "autograder.zip"
    made = run([installed_kit / "grader", "gradescope", "build", "--install", str(kit_wheel), "--exercise", "sample",
                "--visibility", "after_due_date", "--out", str(zip_path)], cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    zipfile.ZipFile(zip_path).extractall(root / "source")
    (root / "run_autograder").write_bytes((root / "source" / "run_autograder").read_bytes())

    def run_autograder():
        env = clean_env(GRADESCOPE_ROOT=str(root), GRADER_PYTHON=str(installed_kit / "python"))
        done = run(["bash", str(root / "run_autograder")], cwd=root, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        results = json.loads((root / "results" / "results.json").read_text())
        jsonschema.validate(results, json.loads((SCHEMAS / "gradescope-results.schema.json").read_text()))
        return results

    return root, run_autograder


def test_gradescope_zip_installs_its_own_wheel(gradescope, kit_wheel):
    root, _ = gradescope
    assert (root / "source" / kit_wheel.name).is_file()
    setup = (root / "source" / "setup.sh").read_text()
    assert f"pip install {shlex.quote('/autograder/source/' + kit_wheel.name)}" in setup
    assert run(["bash", "-n", str(root / "source" / "setup.sh")], cwd=root).returncode == 0


def test_gradescope_grades_each_part_with_feedback_and_visibility(gradescope):
    root, run_autograder = gradescope
    notebook = write_sample(root / "submission" / "my answers.ipynb", "wrong")
    raw = json.loads(notebook.read_text())
    del raw["metadata"]["grader"]  # re-saved by a tool that dropped it: the one configured exercise is assumed
    notebook.write_text(json.dumps(raw))
    results = run_autograder()
    assert results["score"] == sum(t["score"] for t in results["tests"]) == 2.5
    assert [(t["name"], t["max_score"], t["status"]) for t in results["tests"]] == [
        ("sample::sample-mean", 1, "failed"), ("sample::sample-ask", 2, "passed")]
    assert "Hint: Add the values up" in results["tests"][0]["output"]
    assert {t["visibility"] for t in results["tests"]} == {"after_due_date"}


def test_gradescope_scores_a_missing_notebook_as_zero_of_its_points(gradescope):
    root, run_autograder = gradescope
    (root / "submission" / "notes.txt").write_text("I ran out of time")
    results = run_autograder()
    assert results["score"] == 0 and sum(t["max_score"] for t in results["tests"]) == 3
    assert "no notebook for exercise 'sample' was submitted" in results["output"]
