"""Learner code cannot raise its own score: see docs/threat-model.md for what is defended."""

import os
from pathlib import Path

from grader.engine import result as R
from grader.engine.grade import grade_notebook
from grader.engine.session import Limits

FAST = Limits(cell_seconds=3, notebook_seconds=30, call_seconds=3)
WRONG_MEAN = "def mean(values):\n    return 42.0\n"


def mean_part(result):
    return next(part for part in result.parts if part.id == "sample-mean")


def test_printing_a_fake_result_changes_nothing(sample_variant):
    fake = WRONG_MEAN + "print('{\"score\": 3, \"max_score\": 3, \"status\": \"graded\"}')\n"
    result = grade_notebook(sample_variant({"sample-mean-code": fake}), limits=FAST)
    assert mean_part(result).points == 0 and result.score == 2


def test_an_object_that_equals_everything_does_not_pass(sample_variant):
    source = ("class Anything(float):\n    def __eq__(self, other):\n        return True\n"
              "    __hash__ = float.__hash__\n\ndef mean(values):\n    return Anything(0)\n")
    result = grade_notebook(sample_variant({"sample-mean-code": source}), limits=FAST)
    assert mean_part(result).points == 0
    assert "(type Anything), expected a float" in mean_part(result).feedback[0]


def test_patching_the_grader_inside_the_notebook_has_no_effect(sample_variant):
    source = WRONG_MEAN + (
        "import grader.engine.checks as checks, grader.engine.result as result\n"
        "checks.run_check = lambda *a, **k: None\n"
        "result.PartResult.passed = property(lambda self: True)\n"
        "import pytest, builtins\nbuiltins.AssertionError = type('Never', (Exception,), {})\n"
    )
    result = grade_notebook(sample_variant({"sample-mean-code": source}), limits=FAST)
    assert mean_part(result).points == 0 and not mean_part(result).passed


def test_forged_messages_on_every_socket_do_not_crash_or_credit(sample_variant):
    source = WRONG_MEAN + (
        "import os, json, struct, threading\n"
        "def forge():\n"
        "    fake = json.dumps({'value': 42.0, 'event': 'cells_done'}).encode()\n"
        "    for fd in range(3, 64):\n"
        "        try:\n"
        "            os.write(fd, struct.pack('!I', len(fake)) + fake + b'garbage' * 100)\n"
        "        except OSError:\n"
        "            pass\n"
        "forge()\n"
        "threading.Thread(target=lambda: [forge() for _ in range(1000)], daemon=True).start()\n"
    )
    result = grade_notebook(sample_variant({"sample-mean-code": source}), limits=FAST)
    assert result.status in {R.GRADED, R.CRASHED, R.TIMED_OUT}
    assert mean_part(result).points == 0


def test_secrets_of_the_grading_process_never_reach_learner_code(sample_variant, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-instructor-key")
    monkeypatch.setenv("CANVAS_TOKEN", "canvas-secret")
    source = "import os\nos.write(1, repr(dict(os.environ)).encode())\n"
    result = grade_notebook(sample_variant(extra_cells=[(2, source)]), limits=FAST)
    assert "OPENAI_BASE_URL" in result.output
    assert "sk-real-instructor-key" not in result.output and "canvas-secret" not in result.output
    assert result.score == 3


def test_network_beyond_loopback_is_refused(sample_variant):
    source = ("import socket\ntry:\n    socket.create_connection(('192.0.2.1', 80), timeout=1)\n"
              "except PermissionError as e:\n    blocked = str(e)\n"
              "assert 'disabled while grading' in blocked\n"
              "try:\n    socket.getaddrinfo('example.com', 443)\nexcept PermissionError:\n    pass\n"
              "else:\n    raise AssertionError('lookup allowed')\n")
    result = grade_notebook(sample_variant(extra_cells=[(2, source)]), limits=FAST)
    assert result.cell_errors == [] and result.score == 3


def test_learner_code_runs_in_a_scratch_folder(sample_variant, tmp_path):
    source = "import os\nopen('left-behind.txt', 'w').write('x')\nos.write(1, os.getcwd().encode())\n"
    notebook = sample_variant(extra_cells=[(2, source)])
    result = grade_notebook(notebook, limits=FAST)
    scratch = Path(result.output.strip().splitlines()[0])
    assert scratch != Path(os.getcwd()) and not scratch.exists(), "the scratch folder is removed"
    assert not (notebook.parent / "left-behind.txt").exists()
