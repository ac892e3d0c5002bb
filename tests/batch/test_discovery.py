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


def _other_exercise():
    other = json.loads(variant("full_marks"))
    other["metadata"]["grader"]["exercise"] = "api_hygiene"
    return json.dumps(other)


def test_unplaceable_files_are_listed_with_a_reason(batch, tmp_path):
    root = batch(1, "folders")
    (root / "learner009").mkdir()
    (root / "learner009" / "01_api_hygiene.ipynb").write_text(_other_exercise())  # two exercises: none inferred
    (root / "notes.txt").write_text("hello")
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "a" / "b" / "c" / "deep.ipynb").write_text(variant("full_marks"))
    (root / "learner000" / "second.ipynb").write_text(variant("empty_list"))
    (root / "mystery.ipynb").write_text(variant("cleared_metadata"))  # its cells' ids tell its exercise
    (root / "broken.ipynb").write_text("{not json")
    (root / "learner000" / ".ipynb_checkpoints").mkdir()
    (root / "learner000" / ".ipynb_checkpoints" / "x.ipynb").write_text("{}")
    found = discover(root)
    assert keys(found) == [("learner000", "sample", "00_sample.ipynb"),
                           ("learner009", "api_hygiene", "01_api_hygiene.ipynb"),
                           ("mystery", "sample", "mystery.ipynb")]
    reasons = {item.path.name: item.reason for item in found.unplaced}
    assert set(reasons) == {"notes.txt", "deep.ipynb", "second.ipynb", "broken.ipynb", "x.ipynb"}
    assert "not a notebook" in reasons["notes.txt"]
    assert "too deeply nested" in reasons["deep.ipynb"]
    assert "only the first is graded" in reasons["second.ipynb"]
    broken = reasons["broken.ipynb"]
    assert broken.startswith("not valid JSON (") and "2 exercises (api_hygiene, sample)" in broken
    assert "--exercise NAME" in broken
    assert {item.path.name: item.learner for item in found.unplaced}["broken.ipynb"] == "broken", "still their hand-in"
    assert "checkpoint" in reasons["x.ipynb"]


@pytest.mark.parametrize("layout, relative", [
    ("flat", "zed.ipynb"), ("folders", "zed/homework.ipynb"), ("folders", "zed/00_sample.ipynb"),
    ("nbgrader", "submitted/zed/sample/00_sample.ipynb"),
])
@pytest.mark.parametrize("content", ["{not json", "", "cleared_metadata"])
def test_a_notebook_that_does_not_name_its_exercise_is_placed_in_every_layout(batch, layout, relative, content):
    """Unreadable or without metadata, it is still the learner's hand-in: placed (then graded as
    what it is), inferred from the folder, the file name or the batch's only exercise."""
    root = batch(2, layout)
    (root / relative).parent.mkdir(parents=True, exist_ok=True)
    (root / relative).write_text(variant(content) if content == "cleared_metadata" else content)
    found = discover(root)
    assert found.unplaced == []
    assert ("zed", "sample", relative.rsplit("/", 1)[-1]) in keys(found)


def test_a_file_named_like_a_released_notebook_is_that_exercise(tmp_path):
    (tmp_path / "zed").mkdir()
    (tmp_path / "zed" / "01_api_hygiene.ipynb").write_text("{not json")
    (tmp_path / "ada.ipynb").write_text(variant("full_marks"))
    assert keys(discover(tmp_path)) == [("ada", "sample", "ada.ipynb"), ("zed", "api_hygiene", "01_api_hygiene.ipynb")]


def test_exercise_comes_from_option_or_nbgrader_folder_when_metadata_is_gone(tmp_path):
    nbgrader = tmp_path / "course" / "submitted" / "ada" / "sample"
    nbgrader.mkdir(parents=True)
    (nbgrader / "00_sample.ipynb").write_text(variant("cleared_metadata"))
    placed = discover(tmp_path / "course").submissions
    assert [(s.learner, s.exercise) for s in placed] == [("ada", "sample")]

    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "bob.ipynb").write_text(variant("cleared_metadata"))
    (flat / "cy.ipynb").write_text(_other_exercise())
    found = discover(flat, exercise="sample")
    assert [(s.learner, s.exercise) for s in found.submissions] == [("bob", "sample")]
    assert "not the one asked for" in found.unplaced[0].reason
