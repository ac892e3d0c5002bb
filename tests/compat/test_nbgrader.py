"""Instructors who already use nbgrader can keep using it on our notebooks.

One nbgrader course holds every exercise. It is built once per run through nbgrader's own Python
API (``NbGraderAPI``, the layer its command line and formgrader share) with the course's
``nbgrader_config.py``: every assignment is generated once and every submission autograded once,
and each exercise's test then asserts on its own assignment. The same Python process runs every
step, so nbgrader's five-second import is paid once instead of twice per exercise.
"""

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
STUDENTS = ("solver", "blank", "partial", "cheater")
CONFIG = """c = get_config()
c.CourseDirectory.root = {root!r}
c.CourseDirectory.db_assignments = {assignments!r}
c.CourseDirectory.db_students = {students!r}
"""

pytestmark = pytest.mark.slow


def sources(path):
    return [("".join(c["source"]), c["cell_type"]) for c in json.loads(Path(path).read_text())["cells"]]


def submit(course: Path, student: str, name: str, notebook: str) -> None:
    (course / "submitted" / student / name).mkdir(parents=True)
    (course / "submitted" / student / name / f"{name}.ipynb").write_text(notebook)


def submissions(released: Path) -> dict[str, str]:
    """What each student hands in for one exercise (besides the solver's solution)."""
    cheater = json.loads(released.read_text())  # unanswered, and pretends to be the grading child
    cheater["cells"].insert(0, {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                "source": "import os\nos.environ['GRADER_CHILD'] = '1'\n"})
    handed_in = {"blank": released.read_text(), "cheater": json.dumps(cheater)}
    if released.stem == "00_sample":  # partial credit: check() returns the points of a part that half passes
        from grader.batch.samples import variant

        handed_in["partial"] = variant("empty_list")
    return handed_in


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The course directory after nbgrader generated and autograded every exercise, and each
    step's result ({"success", "log", "error"}) by (step, assignment)."""
    pytest.importorskip("nbgrader", reason="nbgrader comes with the dev extras (pip install -e '.[dev]')")
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    root = tmp_path_factory.mktemp("course")
    names = [solution.stem for solution in SOLUTIONS]
    (root / "nbgrader_config.py").write_text(CONFIG.format(
        root=str(root), assignments=[{"name": name} for name in names], students=[{"id": s} for s in STUDENTS]))
    for solution in SOLUTIONS:
        (root / "source" / solution.stem).mkdir(parents=True)
        shutil.copy(solution, root / "source" / solution.stem)
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    results = {}
    # nbgrader runs `alembic` from PATH: make the venv's scripts findable even when it is not activated.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        patch.chdir(root)
        for solution in SOLUTIONS:
            name = solution.stem
            results["generate_assignment", name] = api.generate_assignment(name, force=True)
            released = root / "release" / name / solution.name
            if not released.exists():
                continue
            submit(root, "solver", name, solution.read_text())
            for student, notebook in submissions(released).items():
                submit(root, student, name, notebook)
            results["autograde", name] = api.autograde(name, "*", force=True)
    return root, results


def succeeded(result) -> bool:
    return result is not None and result["success"]


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_generate_assignment_and_autograde_accept_our_notebooks(course, solution):
    root, results = course
    name = solution.stem
    generated = results["generate_assignment", name]
    assert succeeded(generated), f"{generated.get('error', '')[-3000:]}\n{generated.get('log', '')[-3000:]}"
    released = root / "release" / name / solution.name
    assert sources(released) == sources(ROOT / "exercises" / solution.name), "our release matches nbgrader's"

    graded = results.get(("autograde", name))
    assert succeeded(graded), f"{(graded or {}).get('error', '')[-3000:]}\n{(graded or {}).get('log', '')[-3000:]}"
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        solver = gradebook.find_submission(name, "solver")
        blank = gradebook.find_submission(name, "blank")
        assert solver.max_score > 0 and solver.score == solver.max_score
        assert blank.score == 0
        if name == "00_sample":
            partial = gradebook.find_submission(name, "partial")
            assert 0 < partial.score < partial.max_score, (partial.score, partial.max_score)
        assert gradebook.find_submission(name, "cheater").score == 0, "setting GRADER_CHILD earns nothing"
