"""The report opens in a real headless browser without errors and draws its charts."""

import re
import subprocess

from grader.batch.gradebook import Gradebook, Row
from grader.batch.report import common_failures, pass_rates, score_histograms

PROBE = """<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e.target.src || e)), true);
window.addEventListener('load', () => {
  const drawn = selector => [...document.querySelectorAll(selector)]
    .filter(bar => bar.offsetHeight > 2 && bar.offsetWidth > 2).length;
  const errors = window.__errors.length;
  document.body.setAttribute('data-probe', `images=${document.images.length} ` +
    `histogram_bars=${drawn('.col .bar')} rate_bars=${drawn('.rate .bar')} errors=${errors}`);
});
</script>"""


def test_report_loads_in_headless_chromium_and_draws_its_charts(graded, tmp_path, browser):
    _, out, _ = graded
    page = (out / "report.html").read_text()
    probed = tmp_path / "report.html"
    probed.write_text(page.replace("<head>", "<head>" + PROBE, 1))
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=5000", "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    probe = re.search(r'data-probe="([^"]+)"', done.stdout)
    assert probe, f"the page did not finish loading: {done.stdout[:500]}"
    book = Gradebook(out / "gradebook.sqlite")
    rows = book.rows()
    book.close()
    bins_used = sum(1 for histogram in score_histograms(rows) for count in histogram.counts if count)
    parts_passed_by_someone = sum(1 for rate in pass_rates(rows).values() if rate > 0)
    assert probe.group(1) == (f"images=0 histogram_bars={bins_used} rate_bars={parts_passed_by_someone} "
                              "errors=0"), "the page draws one bar per score bin used and per part passed"
    for heading in ("Most common failures", "Slowest submissions", "Did not run to the end",
                    "Files that could not be placed"):
        assert f"<h2>{heading}</h2>" in done.stdout


def test_report_figures_match_the_gradebook(graded):
    _, out, _ = graded
    book = Gradebook(out / "gradebook.sqlite")
    rows = book.rows()
    book.close()
    rates = pass_rates(rows)
    assert rates == {"sample: sample-mean": 0.25, "sample: sample-ask": 0.75}
    failures = {(f.part, f.check, f.cause): f.submissions for f in common_failures(rows)}
    assert failures == {
        ("sample-mean, sample-ask", "", "not answered"): 1,  # the blank notebook: one row, not one per part
        ("sample-mean", "mean of empty list", "raised ZeroDivisionError"): 1,
        ("sample-mean", "its answer cell ran", "raised SyntaxError"): 1,
    }
    page = (out / "report.html").read_text()
    assert "stray.txt" in page and "not a notebook" in page
    assert "raised ZeroDivisionError" in page


def _row(learner, parts, status="graded", problems=()):
    """A gradebook row whose parts are {part: [(check, outcome, message)]}, each worth 1 point."""
    results = [{"id": part, "points": float(all(o == "passed" for _, o, _ in checks)), "max_points": 1.0,
                "passed": all(o == "passed" for _, o, _ in checks), "feedback": [m for _, o, m in checks if m],
                "note": "", "checks": [{"name": n, "weight": 1.0, "outcome": o, "message": m, "hint": ""}
                                       for n, o, m in checks]}
               for part, checks in parts.items()]
    score = sum(part["points"] for part in results)
    return Row(hash(learner), learner, "ex", "h" + learner, f"{learner}.ipynb", status, score, len(results), 0.1,
               0.0, {"parts": results, "problems": list(problems), "cell_errors": []})


def test_failures_are_grouped_by_check_and_cause():
    blank = "Not answered yet: your code still raises NotImplementedError; replace it."
    rows = [
        _row("a", {"p1": [("test_sum", "failed", "sum([1, 2]) returned 4, expected 3")],
                   "p2": [("test_len", "failed", "len('ab') returned 1")]}),
        _row("b", {"p1": [("test_sum", "failed", "sum([5]) returned 6, expected 5 (the list had one item)")],
                   "p2": [("test_len", "raised", "Your code raised TypeError: bad")]}),
        _row("c", {"p1": [("test_sum", "raised", blank)], "p2": [("test_len", "raised", blank)]}),
        _row("d", {"p1": [("test_sum", "raised", blank)], "p2": [("test_len", "passed", "")]}),
    ]
    failures = [(f.part, f.check, f.cause, f.submissions) for f in common_failures(rows)]
    assert failures[:2] == [("p1", "sum", "wrong result", 2), ("p1, p2", "", "not answered", 2)], \
        "one mistake on different inputs and wordings is one row; blank parts collapse into one"
    assert sorted(failures[2:]) == [("p2", "len", "raised TypeError", 1), ("p2", "len", "wrong result", 1)]


def test_score_histogram_counts_whole_submissions_per_tenth_of_the_points():
    from dataclasses import replace

    rows = [replace(_row(name, {"p": [("t", "passed", "")]}), score=score, max_score=16)
            for name, score in (("a", 16), ("b", 15.9), ("c", 0), ("d", 8), ("e", 1.59))]
    (histogram,) = score_histograms(rows)
    assert histogram.counts == (2, 0, 0, 0, 0, 1, 0, 0, 0, 2), "0-9%: 0 and 1.59; 50-59%: 8; 90-100%: 16 and 15.9"


def test_scores_print_with_at_most_two_decimals(tmp_path):
    from dataclasses import replace

    from grader.batch.exports import write_all
    from grader.batch.feedback import render_page
    from grader.batch.report import render

    row = replace(_row("a", {"p1": [("t", "failed", "x")]}, status="timeout"), score=12.716666, max_score=16)
    for page in (render([row], tmp_path), render_page(row)):
        assert "12.72 / 16" in page and "12.7166" not in page
    write_all([row], tmp_path, [])
    for export in ("grades.csv", "canvas.csv", "results/a/ex.json"):
        text = (tmp_path / export).read_text()
        assert "12.72" in text and "12.7166" not in text, export


def test_demo_submissions_are_built_from_the_current_solution():
    """The demo must not go stale when a notebook changes: regenerate with samples.write_demo."""
    from pathlib import Path

    from grader.batch.samples import demo_files

    submitted = Path(__file__).resolve().parents[2] / "datasets" / "sample_submissions" / "submitted"
    on_disk = {str(p.relative_to(submitted)): p.read_text(encoding="utf-8")
               for p in submitted.rglob("*") if p.is_file()}
    assert on_disk == demo_files(), (
        "regenerate: python -c \"from pathlib import Path; from grader.batch.samples import write_demo; "
        "write_demo(Path('datasets/sample_submissions/submitted'))\"")


def test_the_demo_grades_each_learner_as_its_readme_says(demo):
    summary, out = demo
    assert [item.path.name for item in summary.unplaced] == ["answers.txt"]
    assert summary.line().startswith("33 graded (28 ran to the end, 2 with changed locked cells, 1 timed out, "
                                     "1 crashed, 1 could not be read), 0 skipped as unchanged, 1 not placed")
    book = Gradebook(out / "gradebook.sqlite")
    try:
        rows = book.rows()
    finally:
        book.close()
    status = {row.learner: row.status for row in rows if row.exercise == "sample"}
    expected = {"hana": "timeout", "ivan": "crashed", "jo": "tampered", "lena": "invalid_notebook",
                "nina": "tampered"}
    assert status == {learner: expected.get(learner, "graded") for learner in status}
    assert len(status) == 13
    # Every other exercise: omar's solution full marks, priya's blank zero, quinn, rosa and sam
    # one common mistake each: graded, and short of full marks.
    pillars = [row for row in rows if row.exercise != "sample"]
    assert {row.exercise for row in pillars} == {"api_hygiene", "structured_output", "retrieval_faiss", "tool_agent"}
    for row in pillars:
        assert row.status == "graded", (row.learner, row.exercise, row.result["problems"])
        expected_score = {"omar": row.max_score, "priya": 0}.get(row.learner)
        if expected_score is None:
            assert 0 < row.score < row.max_score, (row.learner, row.exercise, row.score)
        else:
            assert row.score == expected_score, (row.learner, row.exercise, row.score)
    report = (out / "report.html").read_text()
    tampered = report.split("<h2>Locked cells changed or deleted</h2>")[1].split("<h2>")[0]
    assert "nina" in tampered and "The locked cell &#39;sample-ask&#39; was deleted" in tampered
    assert "jo" in tampered and "locked but its source was changed" in tampered
    book = Gradebook(out / "gradebook.sqlite")
    sample = [row for row in book.rows() if row.exercise == "sample"]
    book.close()
    causes = {(f.part, f.check, f.cause): f.submissions for f in common_failures(sample)}
    assert causes[("sample-mean", "its answer cell ran", "timed out")] == 1  # hana
    assert causes[("sample-mean", "its answer cell ran", "crashed the interpreter")] == 1  # ivan
    assert causes[("sample-mean, sample-ask", "", "notebook not run")] == 1  # lena's unreadable file: one row


def test_learner_text_never_becomes_markup(tmp_path):
    from grader.batch.feedback import render_page
    from grader.batch.report import render

    evil = "<script>alert(1)</script>"
    row = _row(evil, {"p1": [("test_x", "failed", f"returned {evil}")]}, status="tampered", problems=[evil])
    for page in (render([row], tmp_path), render_page(row)):
        assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
