"""Grading one notebook end to end: every way a notebook can break gets a precise result."""

from pathlib import Path

import pytest

from grader.engine import result as R
from grader.engine.grade import grade_notebook
from grader.engine.session import Limits

ROOT = Path(__file__).resolve().parents[2]

FAST = Limits(cell_seconds=3, notebook_seconds=40, call_seconds=3, memory_mb=1024)
MEAN = "sample-mean-code"


def parts(result):
    return {part.id: part for part in result.parts}


def test_solution_gets_full_marks_and_exercise_gets_zero():
    solved = grade_notebook(ROOT / "solutions" / "00_sample.ipynb", limits=FAST)
    assert (solved.status, solved.score, solved.max_score) == (R.GRADED, 3, 3)
    blank = grade_notebook(ROOT / "exercises" / "00_sample.ipynb", limits=FAST)
    assert (blank.status, blank.score, blank.max_score) == (R.GRADED, 0, 3)
    assert all("Not answered yet" in part.feedback[0] for part in blank.parts)
    assert not any(check.outcome == R.CHECK_ERROR for part in blank.parts for check in part.checks)


def test_syntax_error_fails_only_its_part(sample_variant):
    result = grade_notebook(sample_variant({MEAN: "def mean(values):\n    return (\n"}), limits=FAST)
    assert result.status == R.GRADED
    assert parts(result)["sample-mean"].points == 0
    assert "SyntaxError" in parts(result)["sample-mean"].feedback[0]
    assert "(line 2)" in parts(result)["sample-mean"].feedback[0]
    assert parts(result)["sample-ask"].points == 2
    assert result.cell_errors[0]["cell"] == "cell 4 ('sample-mean-code')"


def test_raising_cell_does_not_stop_later_cells(sample_variant):
    source = "def mean(values):\n    return sum(values) / len(values) if values else 0.0\n\nmean('oops') + 1\n"
    result = grade_notebook(sample_variant({MEAN: source}), limits=FAST)
    feedback = parts(result)["sample-mean"].feedback[0]
    assert "failed, so this part was not checked" in feedback and "TypeError" in feedback
    assert parts(result)["sample-ask"].points == 2


def test_infinite_loop_times_out_and_other_parts_are_graded(sample_variant):
    result = grade_notebook(sample_variant({MEAN: "while True:\n    pass\n"}), limits=FAST)
    assert result.status == R.TIMED_OUT
    assert parts(result)["sample-mean"].points == 0
    assert "3 s limit" in parts(result)["sample-mean"].feedback[0]
    assert parts(result)["sample-ask"].points == 2


def test_loop_that_swallows_the_timeout_is_stopped_in_place(sample_variant):
    source = "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass\n"
    result = grade_notebook(sample_variant({MEAN: source}), limits=FAST)
    assert result.status == R.TIMED_OUT
    assert "ran longer than its 3 s limit" in parts(result)["sample-mean"].feedback[0]
    assert "did not stop" not in parts(result)["sample-mean"].feedback[0], "stopped, not killed"
    assert parts(result)["sample-ask"].points == 2


def test_sys_exit_is_an_error_in_that_cell(sample_variant):
    result = grade_notebook(sample_variant({MEAN: "import sys\nsys.exit(3)\n"}), limits=FAST)
    assert result.status == R.GRADED
    assert "SystemExit" in parts(result)["sample-mean"].feedback[0]
    assert parts(result)["sample-ask"].points == 2


@pytest.mark.parametrize(("source", "expected"), [
    ("import os\nos._exit(7)\n", "exited with code 7"),
    ("import ctypes\nctypes.string_at(0)\n", "segmentation fault"),
])
def test_interpreter_crash_is_reported(sample_variant, source, expected):
    result = grade_notebook(sample_variant({MEAN: source}), limits=FAST)
    assert result.status == R.CRASHED
    assert expected in parts(result)["sample-mean"].feedback[0]
    assert parts(result)["sample-ask"].points == 2


def test_memory_bomb_hits_the_memory_limit(sample_variant):
    result = grade_notebook(sample_variant({MEAN: "hog = bytearray(4 * 1024**3)\n"}), limits=FAST)
    assert result.status == R.MEMORY_LIMIT
    assert "MemoryError" in parts(result)["sample-mean"].feedback[0]
    assert parts(result)["sample-ask"].points == 2


def test_huge_output_is_capped(sample_variant):
    source = "import os\nfor _ in range(20000):\n    print('x' * 1000)\n    os.write(1, b'y' * 1000)\n"
    result = grade_notebook(sample_variant(extra_cells=[(2, source)]), limits=FAST)
    assert result.score == 3
    assert len(result.output) < 300_000 and "more bytes of output dropped" in result.output


def test_edited_locked_cell_is_restored_and_reported(sample_variant):
    result = grade_notebook(sample_variant({"sample-setup": "check = None\nraise RuntimeError('x')\n"}),
                            limits=FAST)
    assert result.status == R.TAMPERED
    assert result.score == 3, "the released setup cell ran instead"
    assert any("locked but its source was changed" in problem for problem in result.problems)


def test_changed_points_are_tampering_and_ignored(sample_variant):
    def more_points(raw):
        for cell in raw["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("grade_id") == "sample-mean":
                cell["metadata"]["nbgrader"]["points"] = 100

    result = grade_notebook(sample_variant(mutate=more_points), limits=FAST)
    assert result.status == R.TAMPERED and result.max_score == 3


def test_deleted_and_duplicated_cells_are_named(sample_variant):
    deleted = grade_notebook(sample_variant({"sample-ask": None, "sample-mean-code": None}), limits=FAST)
    assert deleted.status == R.TAMPERED, "a deleted check cell counts as a changed locked cell"
    assert any("locked cell 'sample-ask' was deleted" in p for p in deleted.problems)
    assert any("answer cell 'sample-mean-code' was deleted" in p for p in deleted.problems)
    assert ("`mean` is not defined: your notebook must define it in the answer cell 'sample-mean-code'"
            in parts(deleted)["sample-mean"].feedback[0])
    assert parts(deleted)["sample-ask"].points == 2
    answer_only = grade_notebook(sample_variant({"sample-mean-code": None}), limits=FAST)
    assert answer_only.status == R.GRADED, "a deleted answer cell is a missing answer, not tampering"

    def duplicate(raw):
        raw["cells"].append(dict(raw["cells"][3]))

    twice = grade_notebook(sample_variant(mutate=duplicate), limits=FAST)
    assert twice.status == R.GRADED
    assert any("'sample-mean-code' appears 2 times (cells 4, 9)" in p for p in twice.problems)
    assert twice.score == 3


@pytest.mark.parametrize(("content", "expected"), [
    ("", "empty"), ("{", "not valid JSON"), ('{"nbformat": 3, "worksheets": []}', "format 3"),
    ('{"nbformat": 4, "cells": [], "metadata": {}}', "does not say which exercise"),
    ('{"nbformat": 4, "cells": [], "metadata": {"grader": {"exercise": "nope"}}}', "unknown exercise 'nope'"),
])
def test_invalid_files_are_invalid_notebooks(tmp_path, content, expected):
    path = tmp_path / "bad.ipynb"
    path.write_text(content)
    result = grade_notebook(path)
    assert result.status == R.INVALID and result.parts == []
    assert str(path) in result.problems[0] and expected in result.problems[0]


def test_magics_shell_lines_and_top_level_await(sample_variant):
    extra = ("%time x = 1\nout = !echo from-shell\nimport asyncio\nawait asyncio.sleep(0)\n"
             "assert x == 1 and list(out) == ['from-shell'], out\n")
    result = grade_notebook(sample_variant(extra_cells=[(2, extra)]), limits=FAST)
    assert result.cell_errors == [] and result.score == 3


def test_a_call_that_never_returns_times_out_without_losing_other_parts(sample_variant):
    source = "def mean(values):\n    while True:\n        pass\n"
    result = grade_notebook(sample_variant({MEAN: source}), limits=FAST)
    mean = parts(result)["sample-mean"]
    assert mean.points == 0 and "did not finish in time" in mean.feedback[0]
    assert parts(result)["sample-ask"].points == 2, "the child was interrupted, not lost"


def test_feedback_adds_a_hint_only_to_failed_assertions():
    failed = R.CheckOutcome("a", 1, R.FAILED, "mean([]) returned 0", hint="Return 0.0.")
    raised = R.CheckOutcome("b", 1, R.RAISED, "Your code raised ZeroDivisionError: division by zero",
                            hint="Return 0.0.")
    part = R.PartResult("p", 0, 1, [failed, raised])
    assert part.feedback == ["mean([]) returned 0. Hint: Return 0.0.",
                             "Your code raised ZeroDivisionError: division by zero"]


def test_batch_can_name_the_exercise_of_a_notebook_that_does_not(sample_variant, tmp_path):
    def clear(raw):
        raw["metadata"] = {}

    result = grade_notebook(sample_variant(mutate=clear), exercise="sample", limits=FAST)
    assert (result.exercise, result.status, result.score) == ("sample", R.GRADED, 3)
    unreadable = tmp_path / "damaged.ipynb"
    unreadable.write_text('{"cells": [')
    result = grade_notebook(unreadable, exercise="sample")
    assert (result.status, result.score, result.max_score) == (R.INVALID, 0, 3), "the real maximum, not 0 of 0"
    assert all("not valid JSON" in part.feedback[0] for part in result.parts)


def test_part_points_have_at_most_two_decimals_so_totals_add_up():
    from grader.engine.checks import score_part

    outcomes = [R.CheckOutcome(f"t{i}", 1.0, R.PASSED if i < 2 else R.FAILED) for i in range(3)]
    part = score_part("p", 4, outcomes)
    assert part.points == 2.67
    result = R.Result("nb", "ex", R.GRADED, parts=[part, part, part])
    assert result.score == 8.01 == sum(p.points for p in result.parts)
