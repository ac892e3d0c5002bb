"""`check("part")` inside a notebook: the kernel's own definitions, checked without re-running."""

import json
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


def test_missing_definition_says_which_cell_to_run(capsys):
    points = check("sample-mean", namespace={})
    assert points == 0.0
    out = capsys.readouterr().out
    assert "`mean` is not defined yet: run the cell that defines it (cell 4 ('sample-mean-code'))" in out
    assert "Quick check" in out, "a learner is told that final grading uses more inputs"


def test_wrong_answer_names_the_inputs(capsys):
    namespace = {"mean": lambda values: 1.0}
    assert check("sample-mean", namespace=namespace) == 0.0
    assert "expected" in capsys.readouterr().out


def test_inside_the_grading_child_check_defers_to_the_grader(monkeypatch, capsys):
    monkeypatch.setenv("GRADER_CHILD", "1")
    points = check("sample-mean", namespace={})
    assert points == 0.0 and type(points) is float, "never None: nbgrader counts None as full credit"
    assert "checked by the grader" in capsys.readouterr().out


def test_report_reads_as_text_outside_jupyter():
    from grader.engine import result as R
    from grader.engine.live import PartReport

    report = PartReport(R.PartResult("sample-mean", 0.5, 1, [R.CheckOutcome("t", 1, R.FAILED, "wrong")]))
    assert repr(report) == str(report) and "sample-mean" in repr(report) and "wrong" in repr(report)
