"""A floor for every exercise: its checks catch at least 85% of a fixed sample of mutants.

Every solution in solutions/ is picked up, so a new exercise is held to the floor the
moment it lands. The sample is small so that the whole kit grades in a couple of minutes
on two cores; ``make mutants`` grades every mutant. A failure lists the survivors: close
the hole in the checks, or accept the mutant in docs/exercises/<exercise>.equivalent-mutants.toml
with its reason if no check could ever tell it from the solution.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.mutants.report import render_report
from grader.mutants.run import MutantGrader, grade_plans, plan

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
FLOOR, SAMPLE, SEED = 0.85, 12, 0


@pytest.fixture(scope="module")
def reports() -> dict[str, object]:
    plans = [plan(path, max_mutants=SAMPLE, seed=SEED) for path in SOLUTIONS]
    with MutantGrader() as grader:  # one pool for every exercise, so both cores stay busy
        return {report.plan.path.name: report for report in grade_plans(plans, grader)}


@pytest.mark.parametrize("solution", [path.name for path in SOLUTIONS])
def test_checks_catch_the_sampled_mutants(reports, solution):
    report = reports[solution]
    assert report.plan.sampled, f"{solution}: no mutants; are its answers between ### BEGIN/END SOLUTION?"
    assert report.score >= FLOOR, f"mutation score {report.score:.2f} < {FLOOR}\n{render_report(report)}"
