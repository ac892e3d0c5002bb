"""Grading mutants: verdicts are cached by content, accepted equivalents are set apart, the CLI reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.cli import main
from grader.mutants import run
from grader.mutants.cache import VerdictCache
from grader.mutants.equivalent import BadEquivalents, Equivalent, load_equivalents
from grader.mutants.run import MutantGrader, Report, grade_plans, plan

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "solutions" / "00_sample.ipynb"


@pytest.fixture(scope="module")
def grader():
    with MutantGrader(jobs=2) as grader:
        yield grader


def test_a_rerun_takes_verdicts_from_the_cache_until_the_checks_change(grader, tmp_path, monkeypatch):
    cache = VerdictCache(tmp_path / "cache")
    sample = plan(SAMPLE, max_mutants=3, seed=1)
    first, = grade_plans([sample], grader, cache)
    assert (first.from_cache, len(first.verdicts)) == (0, 3)
    again, = grade_plans([plan(SAMPLE, max_mutants=3, seed=1)], grader, cache)
    assert again.from_cache == 3
    assert [v for _, v in again.verdicts] == [v for _, v in first.verdicts]

    edited = run.checks_source("sample") + "\n# a check was fixed\n"
    monkeypatch.setattr(run, "checks_source", lambda exercise: edited)
    after_fix, = grade_plans([plan(SAMPLE, max_mutants=3, seed=1)], grader, cache)
    assert after_fix.from_cache == 0, "a changed checks module must not reuse old verdicts"


def test_sampling_is_fixed_by_the_seed():
    picks = [[m.diff for m in plan(SAMPLE, max_mutants=5, seed=seed).sampled] for seed in (7, 7, 8)]
    assert picks[0] == picks[1] and picks[0] != picks[2] and len(picks[0]) == 5


def test_accepted_equivalents_are_listed_apart_and_not_counted():
    sample = plan(SAMPLE)
    caught, survivor, twin = sample.sampled[:3]
    sample.accepted = [Equivalent(twin.cell, twin.was, twin.now, "same behaviour")]
    report = Report(sample, [(caught, {"caught": True}), (survivor, {"caught": False}), (twin, {"caught": False})])
    assert report.survivors == [survivor]
    assert report.equivalent == [(twin, "same behaviour")]
    assert report.score == 0.5
    assert sum(n for n, _, _ in report.by_part().values()) == 2
    assert report.unused_acceptances == []


def test_an_acceptance_never_hides_a_caught_mutant():
    sample = plan(SAMPLE)
    first, second = sample.sampled[:2]
    sample.accepted = [Equivalent(first.cell, first.was, first.now, "looked the same")]
    report = Report(sample, [(first, {"caught": True}), (second, {"caught": True})])
    assert report.equivalent == [] and report.score == 1.0
    assert report.unused_acceptances == sample.accepted, "an entry matching only caught mutants is stale"


def test_a_malformed_equivalents_file_names_the_file_and_the_entry(tmp_path):
    path = tmp_path / "toy.equivalent-mutants.toml"
    path.write_text('[[equivalent]]\ncell = "c"\nwas = "a"\nnow = "b"\nreason = "why"\n\n'
                    '[[equivalent]]\ncell = "c"\nwas = "a"\nnow = "b"\n')
    with pytest.raises(BadEquivalents, match=r"toy\.equivalent-mutants\.toml: equivalent mutant 2 has no reason"):
        load_equivalents(path)
    path.write_text("[[equivalent]\n")
    with pytest.raises(BadEquivalents, match="not valid TOML"):
        load_equivalents(path)
    assert load_equivalents(tmp_path / "absent.toml") == []


def test_the_command_reports_parts_survivors_and_equivalents(tmp_path, capsys):
    code = main(["mutants", str(SAMPLE), "--max", "4", "--seed", "3", "--cache", str(tmp_path), "--jobs", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "sample-mean" in out or "sample-ask" in out
    assert "overall" in out and "4 sampled" in out
    assert main(["mutants", str(SAMPLE), "--max", "4", "--seed", "3", "--cache", str(tmp_path), "--jobs", "2",
                 "--fail-under", "1.01"]) == 1
    assert "0 graded, 4 from the cache" in capsys.readouterr().out


def test_a_solution_that_loses_points_is_refused(tmp_path, capsys):
    broken = tmp_path / "broken.ipynb"
    broken.write_text(SAMPLE.read_text().replace("return sum(values) / len(values)", "return 0.0"))
    assert "return 0.0" in broken.read_text(), "the sample solution changed; update this test"
    assert main(["mutants", str(broken), "--max", "1", "--no-cache"]) == 2
    assert "the solution itself does not get full marks" in capsys.readouterr().err
