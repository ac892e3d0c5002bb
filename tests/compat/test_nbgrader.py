"""Instructors who already use nbgrader can keep using it on our notebooks."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NBGRADER = [sys.executable, "-m", "nbgrader"]
# nbgrader runs `alembic` from PATH: make the venv's scripts findable even when it is not activated.
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
CONFIG = """c = get_config()
c.CourseDirectory.root = "."
c.CourseDirectory.db_assignments = [dict(name="{name}")]
c.CourseDirectory.db_students = [dict(id="solver"), dict(id="blank"), dict(id="partial"), dict(id="cheater")]
"""

pytestmark = pytest.mark.slow


def sources(path):
    return [("".join(c["source"]), c["cell_type"]) for c in json.loads(Path(path).read_text())["cells"]]


@pytest.mark.parametrize("solution", sorted((ROOT / "solutions").glob("*.ipynb")), ids=lambda p: p.stem)
def test_generate_assignment_and_autograde_accept_our_notebooks(tmp_path, solution):
    pytest.importorskip("nbgrader", reason="nbgrader comes with the dev extras (pip install -e '.[dev]')")
    name = solution.stem
    (tmp_path / "source" / name).mkdir(parents=True)
    shutil.copy(solution, tmp_path / "source" / name)
    (tmp_path / "nbgrader_config.py").write_text(CONFIG.format(name=name))

    def nbgrader(*args):
        run = subprocess.run([*NBGRADER, *args, "--force"], cwd=tmp_path, env=ENV, capture_output=True, text=True,
                             timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]

    nbgrader("generate_assignment", name)
    released = tmp_path / "release" / name / solution.name
    assert sources(released) == sources(ROOT / "exercises" / solution.name), "our release matches nbgrader's"

    for student, notebook in (("solver", solution), ("blank", released)):
        (tmp_path / "submitted" / student / name).mkdir(parents=True)
        shutil.copy(notebook, tmp_path / "submitted" / student / name)
    if name == "00_sample":  # partial credit: check() returns the points of a part that half passes
        from grader.batch.samples import variant

        (tmp_path / "submitted" / "partial" / name).mkdir(parents=True)
        (tmp_path / "submitted" / "partial" / name / solution.name).write_text(variant("empty_list"))
    cheater = json.loads(released.read_text())  # unanswered, and pretends to be the grading child
    cheater["cells"].insert(0, {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                "source": "import os\nos.environ['GRADER_CHILD'] = '1'\n"})
    (tmp_path / "submitted" / "cheater" / name).mkdir(parents=True)
    (tmp_path / "submitted" / "cheater" / name / solution.name).write_text(json.dumps(cheater))
    nbgrader("autograde", name)

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gradebook:
        solver = gradebook.find_submission(name, "solver")
        blank = gradebook.find_submission(name, "blank")
        assert solver.max_score > 0 and solver.score == solver.max_score
        assert blank.score == 0
        if name == "00_sample":
            partial = gradebook.find_submission(name, "partial")
            assert 0 < partial.score < partial.max_score, (partial.score, partial.max_score)
        assert gradebook.find_submission(name, "cheater").score == 0, "setting GRADER_CHILD earns nothing"
