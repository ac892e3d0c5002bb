"""Batch grading end to end: zip in, gradebook, resume, resubmission, exports read back, feedback."""

import csv
import html
import io
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.batch.gradebook import Gradebook, GradebookBusy, exclusive
from grader.batch.runner import grade_batch, publish
from grader.batch.samples import variant, write_batch

ROOT = Path(__file__).resolve().parents[2]
LIMIT_ARGS = ["--cell-timeout", "3", "--timeout", "30", "--memory-mb", "1024"]


def grader(*args):
    return [sys.executable, "-m", "grader", *args]


def count_rows(out):
    path = out / "gradebook.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(path, timeout=10) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        except sqlite3.OperationalError:  # table not created yet
            return 0


def page_text(path):
    """What a reader sees of an HTML page: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


def read_csv(path):
    return list(csv.reader(io.StringIO(path.read_text())))


def test_zip_is_graded_and_summarised(graded):
    archive, out, summary = graded
    assert (summary.graded, summary.outcomes, summary.skipped) == (4, {"graded": 4}, 0)
    assert [item.path.name for item in summary.unplaced] == ["stray.txt"]
    assert summary.unplaced[0].path == archive / "export" / "stray.txt", "named as in the zip"
    assert "4 graded (4 ran to the end), 0 skipped as unchanged, 1 not placed, in " in summary.line()
    assert read_csv(out / "unplaced.csv")[1][1] == "not a notebook (.ipynb)"


def test_exports_match_the_gradebook(graded):
    _, out, _ = graded
    book = Gradebook(out / "gradebook.sqlite")
    rows = {row.learner: row for row in book.rows()}
    book.close()
    assert {learner: row.score for learner, row in rows.items()} == {
        "learner000": 3, "learner001": 2.5, "learner002": 0, "learner003": 2}

    grades = list(csv.DictReader(io.StringIO((out / "grades.csv").read_text())))
    assert [g["learner"] for g in grades] == sorted(rows)
    for line in grades:
        row = rows[line["learner"]]
        assert float(line["sample"]) == row.score == float(line["total"])
        for part in row.result["parts"]:
            assert float(line[f"sample:{part['id']}"]) == part["points"]

    canvas = read_csv(out / "canvas.csv")
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "sample"]
    assert canvas[1][0] == "Points Possible" and float(canvas[1][-1]) == 3
    assert {line[2]: float(line[-1]) for line in canvas[2:]} == {k: r.score for k, r in rows.items()}

    for learner, row in rows.items():
        results = json.loads((out / "results" / learner / "sample.json").read_text())
        assert results["score"] == row.score
        assert sum(test["score"] for test in results["tests"]) == pytest.approx(row.score)
        assert {t["name"]: t["status"] for t in results["tests"]} == {
            p["id"]: "passed" if p["passed"] else "failed" for p in row.result["parts"]}


def test_feedback_page_shows_own_failing_code_and_nothing_else(graded):
    _, out, _ = graded
    page = (out / "feedback" / "learner001" / "sample.html").read_text()
    assert "2.5 / 3 points" in page
    assert "return sum(values) / len(values)" in page_text(out / "feedback" / "learner001" / "sample.html")
    assert 'class="code"' in page, "their failing answer, highlighted by Pygments"
    book = Gradebook(out / "gradebook.sqlite")
    row = next(row for row in book.rows() if row.learner == "learner001")
    book.close()
    assert row.result["parts"][0]["feedback"] and all(html.escape(line) in page
                                                     for line in row.result["parts"][0]["feedback"])
    others = ["learner000", "learner002", "learner003"]
    assert not any(name in page for name in others)
    assert str(row.result["seed"]) not in page
    broken = page_text(out / "feedback" / "learner003" / "sample.html")
    assert "SyntaxError" in broken and "return (sum(values) / len(values)" in broken


def test_rerun_skips_unchanged_and_resubmission_keeps_history(graded, tmp_path, fast):
    archive, shared_out, _ = graded
    out = shutil.copytree(shared_out, tmp_path / "out")  # the shared result stays as graded
    again = grade_batch(archive, out, jobs=2, limits=fast, stream=io.StringIO())
    assert (again.graded, again.skipped) == (0, 4)

    folder = tmp_path / "resubmitted"
    shutil.copytree(next((out / "unpacked").iterdir()) / "export", folder)
    (folder / "submitted" / "learner002" / "sample" / "00_sample.ipynb").write_text(variant("full_marks"))
    resubmitted = grade_batch(folder, out, jobs=1, limits=fast, stream=io.StringIO())
    assert (resubmitted.graded, resubmitted.skipped) == (1, 3)
    book = Gradebook(out / "gradebook.sqlite")
    history = [row.score for row in book.rows(history=True) if row.learner == "learner002"]
    current = next(row for row in book.rows() if row.learner == "learner002")
    book.close()
    assert history == [0, 3] and current.score == 3
    assert "learner002,3,3,3" in (out / "grades.csv").read_text()

    shutil.copy(next((out / "unpacked").iterdir()) / "export" / "submitted" / "learner002" / "sample" /
                "00_sample.ipynb", folder / "submitted" / "learner002" / "sample" / "00_sample.ipynb")
    back = grade_batch(folder, out, jobs=1, limits=fast, stream=io.StringIO())
    assert (back.graded, back.skipped) == (0, 4), "the first version was graded already"
    book = Gradebook(out / "gradebook.sqlite")
    current = next(row for row in book.rows() if row.learner == "learner002")
    book.close()
    assert current.score == 0, "going back to the first version makes it current again"
    assert "learner002,0,3,0" in (out / "grades.csv").read_text()


def test_export_regenerates_from_the_gradebook(graded):
    _, out, _ = graded
    (out / "grades.csv").unlink()
    (out / "results" / "learner000" / "sample.json").unlink()
    done = subprocess.run(grader("export", "--out", str(out)), cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (out / "grades.csv").read_text().startswith("learner,total,max_total,sample")
    assert json.loads((out / "results" / "learner000" / "sample.json").read_text())["score"] == 3


def _start(submissions, out, jobs="2"):
    return subprocess.Popen(grader("grade", str(submissions), "--out", str(out), "--jobs", jobs, *LIMIT_ARGS),
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_kill_9_then_resume_grades_each_submission_exactly_once(batch, tmp_path):
    submissions, out = batch(8), tmp_path / "out"
    first = _start(submissions, out)
    _wait_for(lambda: count_rows(out) >= 1)
    os.kill(first.pid, signal.SIGKILL)
    first.communicate()
    before = count_rows(out)
    assert before < 8, "the first run finished before it could be killed"
    second = subprocess.run(grader("grade", str(submissions), "--out", str(out), *LIMIT_ARGS),
                            cwd=ROOT, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert f"{8 - before} graded ({8 - before} ran to the end), {before} skipped as unchanged" in second.stdout
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        learners = [row[0] for row in db.execute("SELECT learner FROM results ORDER BY learner")]
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert learners == [f"learner{i:03d}" for i in range(8)]


def test_a_second_grader_on_the_same_out_is_refused_clearly(batch, tmp_path):
    submissions, out = batch(4), tmp_path / "out"
    first = _start(submissions, out, jobs="1")
    _wait_for(lambda: (out / "gradebook.lock").exists() and "pid" in (out / "gradebook.lock").read_text())
    second = subprocess.run(grader("grade", str(submissions), "--out", str(out)), cwd=ROOT,
                            capture_output=True, text=True)
    stdout, stderr = first.communicate(timeout=60)
    assert second.returncode == 3
    assert f"{out} is in use by another grader (pid {first.pid}" in second.stderr
    assert first.returncode == 0, stderr
    assert "4 graded" in stdout and count_rows(out) == 4


def test_lock_is_released_when_the_holder_exits(tmp_path):
    with exclusive(tmp_path), pytest.raises(GradebookBusy, match="pass a different --out"), exclusive(tmp_path):
        pass
    with exclusive(tmp_path):
        pass


SECOND_EXERCISE = {"flat": "learner001.ipynb", "folders": "learner001/01_api_hygiene.ipynb",
                   "nbgrader": "submitted/learner001/api_hygiene/01_api_hygiene.ipynb"}
GARBAGE, CUT_SHORT = '{"cells": [', "cut_short"  # nothing to tell its exercise by; a truncated upload


def _invalid_file(content: str) -> str:
    return variant("full_marks")[:2000] if content == CUT_SHORT else content


@pytest.mark.parametrize(("exercises", "layout", "relative", "content", "zipped", "told"), [
    (1, "flat", "zed.ipynb", GARBAGE, False, True), (1, "flat", "zed.ipynb", GARBAGE, True, True),
    (1, "folders", "zed/homework.ipynb", GARBAGE, False, True),
    (1, "nbgrader", "submitted/zed/sample/00_sample.ipynb", GARBAGE, True, True),
    (2, "flat", "zed.ipynb", CUT_SHORT, False, True), (2, "flat", "zed.ipynb", GARBAGE, True, False),
    (2, "folders", "zed/homework.ipynb", GARBAGE, False, False),
    (2, "folders", "zed/00_sample.ipynb", GARBAGE, False, True),
    (2, "nbgrader", "submitted/zed/sample/00_sample.ipynb", GARBAGE, False, True),
    (2, "nbgrader", "submitted/zed/hw1/answers.ipynb", GARBAGE, False, False),
])
def test_an_invalid_notebook_appears_in_every_export_in_every_layout(batch, tmp_path, zip_folder, fast, exercises,
                                                                    layout, relative, content, zipped, told):
    """A file that is not valid JSON is graded as `invalid_notebook` of the exercise its folder, its name,
    the cell ids in its text or the batch's only exercise tells (*told*); when nothing tells it (a batch
    of two exercises), the learner still has a row in every gradebook export, saying why."""
    root = batch(1, layout, names=["full_marks"])
    if exercises == 2:
        (root / SECOND_EXERCISE[layout]).parent.mkdir(parents=True, exist_ok=True)
        (root / SECOND_EXERCISE[layout]).write_bytes((ROOT / "exercises" / "01_api_hygiene.ipynb").read_bytes())
    (root / relative).parent.mkdir(parents=True, exist_ok=True)
    (root / relative).write_text(_invalid_file(content))
    source = zip_folder(root, tmp_path / "download.zip") if zipped else root
    out = tmp_path / "out"
    summary = grade_batch(source, out, jobs=1, limits=fast, stream=io.StringIO())
    assert summary.errors == []
    grades = {line["learner"]: line for line in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}
    header, _, *lines = read_csv(out / "canvas.csv")
    canvas = {line[2]: dict(zip(header, line, strict=True)) for line in lines}
    report = page_text(out / "report.html")
    assert grades["learner000"]["sample:status"] == "graded" and "zed" in canvas and "zed" in report
    if not told:
        assert [(item.path.name, item.learner) for item in summary.unplaced] == [(relative.split("/")[-1], "zed")]
        assert "not valid JSON" in summary.unplaced[0].reason and "--exercise NAME" in summary.unplaced[0].reason
        assert (grades["zed"]["total"], grades["zed"]["sample"], grades["zed"]["sample:status"]) == ("", "", "")
        assert "not valid JSON" in grades["zed"]["unplaced"] and "--exercise NAME" in grades["zed"]["unplaced"]
        assert (canvas["zed"]["sample"], canvas["zed"]["api_hygiene"]) == ("", ""), "no grade: which exercise?"
        assert "not valid JSON" in report and read_csv(out / "unplaced.csv")[1][2] == "zed"
        assert not (out / "results" / "zed").exists() and not (out / "feedback" / "zed").exists()
        written = (out / "grades.csv").read_text()
        (out / "grades.csv").unlink()
        book = Gradebook(out / "gradebook.sqlite")
        publish(book, out)  # what `grader export` does: the row comes back from unplaced.csv
        book.close()
        assert (out / "grades.csv").read_text() == written
        return
    assert summary.unplaced == []
    ran = "2 ran to the end" if exercises == 2 else "1 ran to the end"
    assert f"{exercises + 1} graded ({ran}, 1 could not be read)" in summary.line()
    assert (grades["zed"]["sample"], grades["zed"]["max_total"], grades["zed"]["sample:status"]) == (
        "0", "3", "invalid_notebook")
    assert grades["zed"]["unplaced"] == ""
    assert (canvas["zed"]["sample"], canvas["learner000"]["sample"]) == ("0", "3")
    results = json.loads((out / "results" / "zed" / "sample.json").read_text())
    assert results["extra_data"]["status"] == "invalid_notebook" and "not valid JSON" in results["output"]
    assert "not valid JSON" in page_text(out / "feedback" / "zed" / "sample.html")
    assert "Could not be graded" in page_text(out / "feedback" / "zed" / "sample.html")
    assert "invalid_notebook" in report and "not valid JSON" in report


def test_the_largest_submissions_are_handed_to_the_workers_first(tmp_path, monkeypatch):
    """Longest first: a batch must not end with one worker on a long submission and the rest idle."""
    from grader.batch import workers

    paths = write_batch(tmp_path / "in", 4, ["full_marks"])
    for extra, path in zip([0, 5000, 200, 90000], paths, strict=True):
        raw = json.loads(path.read_text())
        raw["cells"][0]["source"] = ["# " + "x" * extra]
        path.write_text(json.dumps(raw))
    handed = []

    def record(tasks, jobs, template=None):
        for task in tasks:
            handed.append(Path(task.path).parent.parent.name)
            yield task, RuntimeError("not graded in this test")

    monkeypatch.setattr(workers, "run_local", record)
    summary = grade_batch(tmp_path / "in", tmp_path / "out", jobs=2, stream=io.StringIO())
    assert handed == ["learner003", "learner001", "learner002", "learner000"]
    assert len(summary.errors) == 4


def test_each_feedback_page_is_written_as_its_result_arrives(tmp_path, monkeypatch):
    """Not all at the end, where highlighting failed code would run with every other core idle;
    and publishing does not write them a second time."""
    from grader.batch import feedback, workers

    write_batch(tmp_path / "in", 3, ["full_marks", "empty_list", "not_answered"])
    pages = tmp_path / "out" / "feedback"
    written_before_each_result = []
    real_run, real_render = workers.run_local, feedback.render_page

    def watched(tasks, jobs, template=None):
        for task, outcome in real_run(tasks, jobs, template):
            written_before_each_result.append(len(list(pages.glob("*/*.html"))))
            yield task, outcome

    renders = []
    monkeypatch.setattr(workers, "run_local", watched)
    monkeypatch.setattr(feedback, "render_page", lambda row: renders.append(row.learner) or real_render(row))
    summary = grade_batch(tmp_path / "in", tmp_path / "out", jobs=1, stream=io.StringIO())
    assert summary.graded == 3
    assert written_before_each_result == [0, 1, 2]
    assert sorted(renders) == ["learner000", "learner001", "learner002"]
    assert "mean" in page_text(pages / "learner001" / "sample.html")  # the failed part's code is on its page


def test_a_resumed_run_writes_the_pages_of_the_results_it_skipped(tmp_path):
    write_batch(tmp_path / "in", 2, ["full_marks", "empty_list"])
    grade_batch(tmp_path / "in", tmp_path / "out", jobs=1, stream=io.StringIO())
    shutil.rmtree(tmp_path / "out" / "feedback")
    summary = grade_batch(tmp_path / "in", tmp_path / "out", jobs=1, stream=io.StringIO())
    assert (summary.graded, summary.skipped) == (0, 2)
    assert sorted(p.parent.name for p in (tmp_path / "out" / "feedback").glob("*/*.html")) == [
        "learner000", "learner001"]


def test_a_page_that_fails_mid_run_stops_no_grading_and_is_written_at_the_end(tmp_path, monkeypatch):
    from grader.batch import feedback

    write_batch(tmp_path / "in", 3, ["full_marks", "empty_list"])
    real_render, failed = feedback.render_page, []

    def flaky(row):
        if row.learner == "learner000" and not failed:
            failed.append(row.learner)
            raise OSError("disk full, for a moment")
        return real_render(row)

    monkeypatch.setattr(feedback, "render_page", flaky)
    summary = grade_batch(tmp_path / "in", tmp_path / "out", jobs=1, stream=io.StringIO())
    assert failed == ["learner000"] and summary.graded == 3
    assert sorted(p.parent.name for p in (tmp_path / "out" / "feedback").glob("*/*.html")) == [
        "learner000", "learner001", "learner002"]
