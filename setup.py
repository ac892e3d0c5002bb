"""Build hook: ship the course (released notebooks and data) inside the ``grader`` package.

An installed kit must grade anywhere, so a wheel carries what grading reads besides the
code: ``exercises/*.ipynb`` (locked cells and points) and ``datasets/`` go to
``grader/_course/``, where ``grader.engine.course`` finds them outside a checkout.
``solutions/`` and ``tests/`` are never copied: learners install this package.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# Made from the solution notebooks (full-marks answers): for the demo in a checkout only.
UNSHIPPED_DATASETS = {"sample_submissions"}


class BuildPyWithCourse(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout itself
            return
        course = Path(self.build_lib) / "grader" / "_course"
        shutil.rmtree(course, ignore_errors=True)
        (course / "exercises").mkdir(parents=True)
        for notebook in sorted((ROOT / "exercises").glob("*.ipynb")):
            shutil.copy2(notebook, course / "exercises" / notebook.name)
        for folder in sorted((ROOT / "datasets").iterdir()):
            if folder.is_dir() and folder.name not in UNSHIPPED_DATASETS:
                shutil.copytree(folder, course / "datasets" / folder.name)


setup(cmdclass={"build_py": BuildPyWithCourse})
