import zipfile
from pathlib import Path

import pytest

from grader.batch.samples import write_batch

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
def zip_folder():
    """zip_folder(folder, archive, prefix="") writes *folder* into *archive* the way an LMS download looks."""

    def make(folder: Path, archive: Path, prefix: str = "") -> Path:
        with zipfile.ZipFile(archive, "w") as bundle:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    bundle.write(path, prefix + path.relative_to(folder).as_posix())
        return archive

    return make
