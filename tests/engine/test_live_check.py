"""`check("part")` inside a notebook: the kernel's own definitions, checked without re-running."""

import json
import subprocess
import sys
from pathlib import Path

from grader.engine.live import check

ROOT = Path(__file__).resolve().parents[2]


def run_answer_cells(path):
    """Execute a notebook's code cells into a namespace, as a kernel would (skipping check cells)."""
    namespace = {"__name__": "__main__"}
    for cell in json.loads(Path(path).read_text())["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and not source.startswith("check("):
            exec(compile(source, "<cell>", "exec"), namespace)
    return namespace


def test_solution_part_passes(capsys):
    """How fast (under a second) is measured by benchmarks/bench_check.py, not asserted here."""
    namespace = run_answer_cells(ROOT / "solutions" / "00_sample.ipynb")
    points = check("sample-ask", namespace=namespace)
    assert points == 2.0
    assert "sample-ask" in capsys.readouterr().out


def test_missing_definition_says_which_cell_to_run():
    points = check("sample-mean", namespace={})
    assert points == 0.0
    assert "`mean` is not defined yet: run the cell that defines it (cell 4 ('sample-mean-code'))" in \
        points.part.feedback[0]
    assert "Quick check" in points.part.note, "a learner is told that final grading uses more inputs"
    assert "Quick check" in points._repr_html_()


def test_wrong_answer_names_the_inputs():
    namespace = {"mean": lambda values: 1.0}
    points = check("sample-mean", namespace=namespace)
    assert points == 0.0
    assert "expected" in points.part.feedback[0]


def test_inside_the_grading_child_check_defers_to_the_grader(monkeypatch, capsys):
    import grader

    monkeypatch.setenv("GRADER_CHILD", "1")
    points = grader.check("sample-mean")
    assert points == 0.0 and type(points) is float, "never None: nbgrader counts None as full credit"
    assert "checked by the grader" in capsys.readouterr().out


def test_inside_the_grading_child_check_imports_nothing_of_the_checking_machinery():
    """Every graded cell calls check(): in the child it must stay a print, not the import of
    the checks, the renderer and rich (which the zygote would otherwise have to preload)."""
    code = ("import os, sys; os.environ['GRADER_CHILD'] = '1'; import grader; grader.check('sample-mean'); "
            "print(sorted(m for m in ('grader.engine.live', 'grader.engine.render', 'rich') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


def test_result_is_the_points_in_text_and_the_panel_in_html():
    """nbgrader reads partial credit from text/plain; Jupyter shows the HTML panel instead of an echo."""
    from IPython.core.formatters import DisplayFormatter

    from grader.engine import result as R
    from grader.engine.live import CheckResult

    part = R.PartResult("sample-mean", 0.46666, 1, [R.CheckOutcome("t", 1, R.FAILED, "wrong <b>", "fix it")])
    shown = CheckResult(part)
    assert shown == 0.47 and shown + 1 == 1.47
    bundle, _ = DisplayFormatter().format(shown)
    assert bundle["text/plain"] == "0.47"
    assert "sample-mean" in bundle["text/html"] and "0.47 / 1 points" in bundle["text/html"]
    assert "wrong &lt;b&gt;. Hint: fix it" in bundle["text/html"], "learner text is escaped"
    assert "sample-mean" in shown.text() and "FAIL" in shown.text() and "wrong <b>" in shown.text()
    import pickle

    assert pickle.loads(pickle.dumps(shown)).part == part


def test_outside_a_kernel_the_feedback_is_printed_once(capsys):
    namespace = {"mean": lambda values: 1.0}
    check("sample-mean", namespace=namespace)
    out = capsys.readouterr().out
    assert out.count("sample-mean") == 1 and "FAIL" in out


def test_the_kernels_own_waking_threads_do_not_keep_learner_code_unsettled():
    """ipykernel and zmq threads wake on their own; a reply gate must still see the learner's
    code settle (under nbgrader autograde, api-concurrency once waited out every hold)."""
    import sys
    import threading
    import time

    import pytest

    from grader.engine import live

    if not sys.platform.startswith("linux"):
        pytest.skip("settles from /proc (Linux only)")
    stop = threading.Event()
    ticker = threading.Thread(target=lambda: [None for _ in iter(lambda: stop.wait(0.001), True)], daemon=True)
    ticker.start()  # a kernel thread, running before check() is called
    try:
        stub, _, _ = live._stub()
        settled = live._settled_probe(stub)
        deadline = time.monotonic() + 2
        while not settled() and time.monotonic() < deadline:
            time.sleep(0.001)
        assert settled(), "the kernel's threads are not learner code"
    finally:
        stop.set()
        ticker.join()
