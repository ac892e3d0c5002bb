"""The pytest plugin, run with pytester as a learner or CI would run `pytest exercises/`."""

import pytest

import grader.engine.grade
import grader.engine.zygote


@pytest.fixture
def counted(monkeypatch):
    """How many notebooks were graded and how many zygotes started during the run."""
    counts = {"graded": 0, "zygotes": 0}
    real_grade, real_zygote = grader.engine.grade.grade_notebook, grader.engine.zygote.ZygoteLauncher

    def grade_notebook(*args, **kwargs):
        counts["graded"] += 1
        return real_grade(*args, **kwargs)

    class ZygoteLauncher(real_zygote):
        def __init__(self, *args, **kwargs):
            counts["zygotes"] += 1
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(grader.engine.grade, "grade_notebook", grade_notebook)
    monkeypatch.setattr(grader.engine.zygote, "ZygoteLauncher", ZygoteLauncher)
    return counts


def test_solution_and_exercise_are_graded_once_each_from_one_zygote(pytester, sample, counted):
    sample("solution", folder=pytester.path)
    sample("exercise", folder=pytester.path)
    run = pytester.runpytest("-v", "solution.ipynb", "exercise.ipynb")
    run.assert_outcomes(passed=2, failed=2)
    run.stdout.fnmatch_lines([
        "solution.ipynb::sample-mean PASSED (1 / 1 points)*",
        "solution.ipynb::sample-ask PASSED (2 / 2 points)*",
        "exercise.ipynb::sample-mean FAILED (0 / 1 points)*",
        "*score: 3 / 6 points (50%) in 4 graded parts*",
    ])
    assert counted == {"graded": 2, "zygotes": 1}


def test_exercise_items_fail_with_the_learner_feedback_not_a_traceback(pytester, sample):
    sample("exercise", folder=pytester.path)
    run = pytester.runpytest("exercise.ipynb")
    run.assert_outcomes(failed=2, errors=0)
    run.stdout.fnmatch_lines([
        "*_ exercise.ipynb: sample-ask _*",
        "sample-ask: 0 / 2 points",
        "- Not answered yet: your code still raises NotImplementedError; replace `raise NotImplementedError()`*",
    ])
    output = run.stdout.str()
    assert "Traceback" not in output and "grader/ci" not in output and "PartNotPassed" not in output


def test_a_wrong_answer_shows_its_hint_and_k_selects_parts(pytester, sample):
    sample("wrong", folder=pytester.path)
    run = pytester.runpytest("wrong.ipynb", "-k", "sample-mean")
    run.assert_outcomes(failed=1, deselected=1)
    run.stdout.fnmatch_lines(["sample-mean: 0.5 / 1 points",
                              "- mean(*) returned *, expected * Hint: Add the values up and divide by how many*",
                              "*score: 0.5 / 1 points (50%) in 1 graded parts*"])


def test_syntax_error_fails_only_the_part_it_breaks(pytester, sample):
    sample("syntax", folder=pytester.path)
    run = pytester.runpytest("syntax.ipynb")
    run.assert_outcomes(passed=1, failed=1, errors=0)
    run.stdout.fnmatch_lines(["sample-mean: 0 / 1 points",
                              "- Your code in cell 4 ('sample-mean-code') failed*SyntaxError*"])


def test_edited_locked_cell_is_reported_and_the_released_cell_graded(pytester, sample):
    sample("locked", folder=pytester.path)
    run = pytester.runpytest("locked.ipynb")
    run.assert_outcomes(passed=2)
    run.stdout.fnmatch_lines(["*locked.ipynb: cell 8 ('sample-ask') is locked but its source was changed*"])


def test_files_that_are_not_notebooks_are_one_collection_error_each(pytester):
    pytester.path.joinpath("notes.ipynb").write_text("my notes, not a notebook")
    pytester.path.joinpath("answers.txt").write_text("42")
    run = pytester.runpytest("notes.ipynb", "answers.txt")
    run.assert_outcomes(errors=2)
    run.stdout.fnmatch_lines([
        "*ERROR collecting notes.ipynb*",
        "*notes.ipynb: not valid JSON*was it saved from Jupyter?",
        "*ERROR collecting answers.txt*",
        "*answers.txt: not a Jupyter notebook*",
    ])
    assert "Traceback" not in run.stdout.str()


def test_a_folder_collects_kit_notebooks_and_leaves_other_notebooks_alone(pytester, sample):
    exercises = pytester.path / "exercises"
    sample("solution", folder=exercises)
    other = exercises / "analysis.ipynb"
    other.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    run = pytester.runpytest("exercises")
    run.assert_outcomes(passed=2)
    assert "analysis" not in run.stdout.str()
