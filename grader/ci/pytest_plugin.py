"""pytest plugin: ``pytest exercises/`` grades notebooks, one test item per graded part.

Each notebook is graded once, when it is collected, by ``grade_notebook`` from one warm
zygote shared by the whole run; its parts then become items named by part id, so ``-k``
selects parts. A failing item shows the learner feedback and hint, as ``grader check``
does; a notebook that cannot be graded is one collection error naming the file. The
score of the parts that ran is printed at the end.

A notebook named on the command line is always collected; one found in a folder only
when its metadata names a kit exercise (or it is not even valid JSON), so notebooks of
other projects in the same environment are left alone. Turn the plugin off with
``-p no:grader``.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

from grader.ci.names import feedback_text, points
from grader.ci.run import names_an_exercise
from grader.engine import result as R


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("grader", "grading notebooks (the ai-engineer-kit grader)")
    group.addoption("--grader-seed", type=int, default=None,
                    help="seed for the checks' random inputs (default: derived from each notebook's code)")


class _Grading:
    """The run's warm zygote, started with the first notebook, and the points of the parts that
    ran; registered as a plugin object so its hooks see both."""

    def __init__(self, seed: int | None):
        self.seed, self._launcher = seed, None
        self.problems: dict[str, list[str]] = {}
        self.earned: list[tuple[float, float]] = []

    def grade(self, path: Path) -> R.Result:
        from grader.engine.grade import grade_notebook

        if self._launcher is None:
            from grader.engine.zygote import ZygoteLauncher

            self._launcher = ZygoteLauncher()
        result = grade_notebook(path, seed=self.seed, launcher=self._launcher)
        if result.problems and result.status != R.INVALID:
            self.problems[str(path)] = result.problems
        return result

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        marks = dict(report.user_properties)
        if report.when == "call" and "max_points" in marks:
            self.earned.append((marks["points"], marks["max_points"]))

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not (self.earned or self.problems):
            return
        terminalreporter.section("grader")
        for path, problems in self.problems.items():
            for problem in problems:
                terminalreporter.write_line(f"{path}: {problem}")
        if self.earned:
            score = sum(earned for earned, _ in self.earned)
            maximum = sum(most for _, most in self.earned)
            share = f" ({100 * score / maximum:.0f}%)" if maximum else ""
            terminalreporter.write_line(f"score: {points(score)} / {points(maximum)} points{share} "
                                        f"in {len(self.earned)} graded parts")

    def pytest_unconfigure(self) -> None:
        if self._launcher is not None:
            self._launcher.close()


_GRADING = pytest.StashKey[_Grading]()


def pytest_configure(config: pytest.Config) -> None:
    grading = _Grading(config.getoption("grader_seed"))
    config.stash[_GRADING] = grading
    config.pluginmanager.register(grading, "grader-grading")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    named = parent.session.isinitpath(file_path)
    if file_path.suffix == ".ipynb" and (named or names_an_exercise(file_path)):
        return NotebookFile.from_parent(parent, path=file_path)
    if named and not _other_collector_wants(file_path, parent.config):
        # `pytest answers.txt`: the learner meant it as their work; say why it cannot be graded
        return NotebookFile.from_parent(parent, path=file_path)
    return None


def _other_collector_wants(path: Path, config: pytest.Config) -> bool:
    """Python test modules and doctest text files belong to pytest's own collectors."""
    doctest_globs = config.getoption("doctestglob", None) or ["test*.txt"]
    return path.suffix == ".py" or any(fnmatch.fnmatch(path.name, glob) for glob in doctest_globs)


class NotebookFile(pytest.File):
    def collect(self):
        result = self.config.stash[_GRADING].grade(self.path)
        if result.status == R.INVALID:
            problem = result.problems[0] if result.problems else "unknown problem"
            where = "" if problem.startswith(str(self.path)) else f"{self.path}: "
            raise self.CollectError(f"{where}{problem}")
        for part in result.parts:
            yield GradedPart.from_parent(self, name=part.id, result=result, part=part)


class PartNotPassed(Exception):
    """A graded part lost points; its feedback is the whole story, no traceback needed."""


class GradedPart(pytest.Item):
    def __init__(self, *, result: R.Result, part: R.PartResult, **kwargs):
        super().__init__(**kwargs)
        self.result, self.part = result, part
        self.user_properties += [("points", points(part.points)), ("max_points", points(part.max_points))]

    def runtest(self) -> None:
        if not self.part.passed:
            raise PartNotPassed(self.part.id)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None) -> str:
        if not isinstance(excinfo.value, PartNotPassed):
            return super().repr_failure(excinfo)
        lines = [f"{self.part.id}: {points(self.part.points)} / {points(self.part.max_points)} points",
                 feedback_text(self.part)]
        lines += [f"problem: {problem}" for problem in self.result.problems]
        return "\n".join(lines)

    def reportinfo(self):
        # the failure's heading; "file::part" would have its dots turned into "::" by pytest
        return self.path, None, f"{self.path.name}: {self.name}"


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    marks = dict(getattr(report, "user_properties", ()))
    if report.when != "call" or "max_points" not in marks:
        return None
    word = "PASSED" if report.passed else "FAILED"
    return (report.outcome, "." if report.passed else "F",
            (f"{word} ({marks['points']} / {marks['max_points']} points)", {"green": report.passed,
                                                                               "red": not report.passed}))
