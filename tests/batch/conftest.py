import io
import shutil
import zipfile
from pathlib import Path

import pytest

from grader.batch.runner import grade_batch
from grader.batch.samples import write_batch
from grader.engine.session import Limits

FAST = Limits(cell_seconds=3, notebook_seconds=30, call_seconds=3, memory_mb=1024)

QUICK_VARIANTS = ["full_marks", "empty_list", "not_answered", "syntax_error"]


@pytest.fixture
def batch(tmp_path):
    """Write a batch of quick-to-grade submissions: batch(count, layout=..., names=...) -> root folder."""

    def make(count, layout="nbgrader", names=None, root=None):
        root = root or tmp_path / "submissions"
        write_batch(root, count, names or QUICK_VARIANTS, layout)
        return root

    return make


@pytest.fixture(scope="session")
def fast():
    """Short limits, so broken submissions cost seconds, not minutes."""
    return FAST


@pytest.fixture(scope="session")
def zip_folder():
    """zip_folder(folder, archive, prefix="") writes *folder* into *archive* the way an LMS download looks."""

    def make(folder: Path, archive: Path, prefix: str = "") -> Path:
        with zipfile.ZipFile(archive, "w") as bundle:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    bundle.write(path, prefix + path.relative_to(folder).as_posix())
        return archive

    return make


@pytest.fixture(scope="session")
def graded(tmp_path_factory, zip_folder):
    """One zip of four submissions graded once; shared by the read-back tests."""
    base = tmp_path_factory.mktemp("graded")
    write_batch(base / "course", 4, ["full_marks", "empty_list", "not_answered", "syntax_error"], "nbgrader")
    (base / "course" / "stray.txt").write_text("not a notebook")
    archive = zip_folder(base / "course", base / "download.zip", prefix="export/")
    out = base / "out"
    summary = grade_batch(archive, out, jobs=2, limits=FAST, stream=io.StringIO())
    return archive, out, summary


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """The bundled demo course (datasets/sample_submissions) graded once: (summary, out folder)."""
    from grader.batch.cli import DEMO_SUBMISSIONS

    out = tmp_path_factory.mktemp("demo")
    summary = grade_batch(DEMO_SUBMISSIONS, out, jobs=2, limits=Limits(cell_seconds=3), stream=io.StringIO())
    return summary, out


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium to open pages in, as a reader would."""
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found is None:
        pytest.skip("no chromium binary; .ci/run installs Debian's `chromium` (apt-get install chromium)")
    return found
