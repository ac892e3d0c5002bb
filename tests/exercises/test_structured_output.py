"""The structured-output notebook: the in-notebook check and its data. Full marks for the
solution, zero for the exercise and the rendered HTML are in ``tests/test_every_exercise.py``;
its common mistakes are graded by ``test_mistakes.py`` from ``mistakes/structured_output.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

from grader.datasets.restaurant8k import FIELDS, REFERENCE_DATE, load_bookings

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "02_structured_output.ipynb"
POINTS = {"so-schema": 2, "so-call": 3, "so-lenient": 2, "so-repair": 3, "so-normalise": 3, "so-eval": 3}


def answer_cells(path: Path) -> dict:
    """The namespace a kernel has after the answer cells and the locked helper cells (not the setup
    cell, which would start a stub and set environment variables here)."""
    namespace = {"__name__": "__main__", "MODEL": "gpt-4o-mini"}
    for cell in json.loads(path.read_text())["cells"]:
        grade_id = cell["metadata"]["nbgrader"]["grade_id"]
        if cell["cell_type"] == "code" and grade_id.endswith(("-code", "-setup")) and grade_id != "so-setup":
            exec(compile("".join(cell["source"]), f"<{grade_id}>", "exec", dont_inherit=True), namespace)
    return namespace


def test_points_in_the_notebook():
    cells = json.loads(SOLUTION.read_text())["cells"]
    graded = {c["metadata"]["nbgrader"]["grade_id"]: c["metadata"]["nbgrader"]["points"]
              for c in cells if c["metadata"]["nbgrader"].get("grade")}
    assert graded == POINTS


def test_live_check_of_the_repair_part_gives_full_points(capsys):
    """Its speed is measured by benchmarks/bench_check.py, not asserted here."""
    from grader.engine.clock import install
    from grader.engine.live import check

    install()
    namespace = answer_cells(SOLUTION)
    assert check("so-repair", namespace=namespace) == POINTS["so-repair"], capsys.readouterr().out
    assert "so-repair" in capsys.readouterr().out


def test_gold_bookings_are_what_the_notebooks_rules_make_of_the_spans():
    """make_subset.py derived the gold values with the solution's part-5 cell: they must still agree."""
    rules = answer_cells(SOLUTION)
    items = load_bookings()
    assert len(items) == 300 and sum(1 for item in items if not item["spans"]) == 60
    for item in items:
        text = item["text"]
        for label in item["labels"]:
            span = label["valueSpan"]
            assert text[span.get("startIndex", 0):span["endIndex"]].strip() == item["spans"][label["slot"]]
        normalised = rules["normalise_booking"](item["spans"], REFERENCE_DATE)
        assert normalised == {field: item["gold"][field] for field in FIELDS}, text


def test_the_pipeline_recovers_the_stub_models_mistakes():
    """End to end on 60 utterances against the stub: the seeded mistakes are repaired and normalised away."""
    from grader.stub import StubLLM

    namespace = answer_cells(SOLUTION)
    client = StubLLM().client(max_retries=0)
    items = load_bookings()[::5]
    predicted, attempts = [], []
    for item in items:
        try:
            booking, used = namespace["extract_with_repair"](client, item["text"], reference_date=REFERENCE_DATE,
                                                            requested=item["requested"])
        except namespace["Refused"]:
            booking, used = None, 1
        predicted.append(booking and booking.model_dump())
        attempts.append(used)
    scores = namespace["evaluate"]([item["gold"] for item in items], predicted, attempts, REFERENCE_DATE)
    assert scores["precision"] == 1.0 and scores["f1"] > 0.9, scores
    assert 0 < scores["repair_rate"] < 0.5, scores
