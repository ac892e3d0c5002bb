"""Build one nbgrader course and run nbgrader on it, as an instructor would: every assignment
generated, every student's submission autograded.

Run as a script (``python nbgrader_course.py ROOT SOLUTION...``) so that tests can build several
courses at once, one per core: nbgrader autogrades a course one notebook at a time. Each step's
result (nbgrader's own ``{"success", "log", "error"}``) is written to ROOT/results.json under
"<step> <assignment>". Every step runs through ``NbGraderAPI``, the layer nbgrader's command line
and formgrader share, in this one process, so nbgrader's import is paid once per course.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

STUDENTS = ("solver", "blank", "partial", "cheater")
CONFIG = """c = get_config()
c.CourseDirectory.root = {root!r}
c.CourseDirectory.db_assignments = {assignments!r}
c.CourseDirectory.db_students = {students!r}
"""


def submit(root: Path, student: str, name: str, notebook: str) -> None:
    (root / "submitted" / student / name).mkdir(parents=True)
    (root / "submitted" / student / name / f"{name}.ipynb").write_text(notebook)


def submissions(solution: Path, released: Path) -> dict[str, str]:
    """What each student hands in for one exercise."""
    cheater = json.loads(released.read_text())  # unanswered, and pretends to be the grading child
    cheater["cells"].insert(0, {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                "source": "import os\nos.environ['GRADER_CHILD'] = '1'\n"})
    handed_in = {"solver": solution.read_text(), "blank": released.read_text(), "cheater": json.dumps(cheater)}
    if solution.stem == "00_sample":  # partial credit: check() returns the points of a part that half passes
        from grader.batch.samples import variant

        handed_in["partial"] = variant("empty_list")
    return handed_in


def build(root: Path, solutions: list[Path]) -> dict[str, dict]:
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    (root / "nbgrader_config.py").write_text(CONFIG.format(
        root=str(root), assignments=[{"name": s.stem} for s in solutions], students=[{"id": s} for s in STUDENTS]))
    for solution in solutions:
        (root / "source" / solution.stem).mkdir(parents=True)
        shutil.copy(solution, root / "source" / solution.stem)
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    results = {}
    for solution in solutions:
        name = solution.stem
        results[f"generate_assignment {name}"] = api.generate_assignment(name, force=True)
        released = root / "release" / name / solution.name
        if not released.exists():
            continue
        for student, notebook in submissions(solution, released).items():
            submit(root, student, name, notebook)
        results[f"autograde {name}"] = api.autograde(name, "*", force=True)
    return results


if __name__ == "__main__":
    # nbgrader runs `alembic` from PATH: make the venv's scripts findable even when it is not activated.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    course = Path(sys.argv[1])
    os.chdir(course)
    (course / "results.json").write_text(json.dumps(build(course, [Path(path) for path in sys.argv[2:]])))
