"""Finding submissions: every layout, zips, and every file that cannot be placed is listed."""

import json

import pytest

from grader.batch.discovery import discover, unpack
from grader.batch.samples import variant


def keys(found):
    return sorted((s.learner, s.exercise, s.path.name) for s in found.submissions)


@pytest.mark.parametrize("layout, name", [("nbgrader", "00_sample.ipynb"), ("folders", "00_sample.ipynb"),
                                          ("flat", None)])
def test_each_layout_places_learner_and_exercise(batch, layout, name):
    found = discover(batch(3, layout))
    expected = [(f"learner00{i}", "sample", name or f"learner00{i}.ipynb") for i in range(3)]
    assert keys(found) == expected
    assert found.unplaced == []
    assert len({s.content_hash for s in found.submissions}) == 3  # three different variants


def test_zip_with_a_wrapping_folder_is_unpacked_once(batch, tmp_path, zip_folder):
    archive = zip_folder(batch(2, "folders"), tmp_path / "download.zip", prefix="Course Export/")
    first = unpack(archive, tmp_path / "unpacked")
    assert first.name == "Course Export"
    assert unpack(archive, tmp_path / "unpacked") == first
    assert keys(discover(first)) == [("learner000", "sample", "00_sample.ipynb"),
                                     ("learner001", "sample", "00_sample.ipynb")]


def test_zip_with_unsafe_paths_is_refused(tmp_path):
    import zipfile

    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("../escape.ipynb", "{}")
    with pytest.raises(ValueError, match="unsafe path"):
        unpack(archive, tmp_path / "unpacked")


def test_unplaceable_files_are_listed_with_a_reason(batch, tmp_path):
    root = batch(1, "folders")
    (root / "notes.txt").write_text("hello")
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "a" / "b" / "c" / "deep.ipynb").write_text(variant("full_marks"))
    (root / "learner000" / "second.ipynb").write_text(variant("empty_list"))
    (root / "mystery.ipynb").write_text(variant("cleared_metadata"))
    (root / "broken.ipynb").write_text("{not json")
    (root / "learner000" / ".ipynb_checkpoints").mkdir()
    (root / "learner000" / ".ipynb_checkpoints" / "x.ipynb").write_text("{}")
    found = discover(root)
    assert keys(found) == [("learner000", "sample", "00_sample.ipynb")]
    reasons = {item.path.name: item.reason for item in found.unplaced}
    assert set(reasons) == {"notes.txt", "deep.ipynb", "second.ipynb", "mystery.ipynb", "broken.ipynb", "x.ipynb"}
    assert "not a notebook" in reasons["notes.txt"]
    assert "too deeply nested" in reasons["deep.ipynb"]
    assert "only the first is graded" in reasons["second.ipynb"]
    assert "--exercise" in reasons["mystery.ipynb"] and "--exercise" in reasons["broken.ipynb"]
    assert "checkpoint" in reasons["x.ipynb"]


def test_exercise_comes_from_option_or_nbgrader_folder_when_metadata_is_gone(tmp_path):
    nbgrader = tmp_path / "course" / "submitted" / "ada" / "sample"
    nbgrader.mkdir(parents=True)
    (nbgrader / "00_sample.ipynb").write_text(variant("cleared_metadata"))
    placed = discover(tmp_path / "course").submissions
    assert [(s.learner, s.exercise) for s in placed] == [("ada", "sample")]

    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "bob.ipynb").write_text(variant("cleared_metadata"))
    other = json.loads(variant("full_marks"))
    other["metadata"]["grader"]["exercise"] = "api_hygiene"
    (flat / "cy.ipynb").write_text(json.dumps(other))
    found = discover(flat, exercise="sample")
    assert [(s.learner, s.exercise) for s in found.submissions] == [("bob", "sample")]
    assert "not the one asked for" in found.unplaced[0].reason
