"""Grade one notebook: run it in an isolated child against a fresh stub LLM, then check it.

The checks run here, in the grading process; learner code runs only in the child. What
the child reports is data about its own code (return values, exceptions), so learner
code can at most lie about itself, never about the checks' verdicts or the stub's log.
"""

from __future__ import annotations

import hashlib
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from grader.engine import result as R
from grader.engine.checks import Check, CheckContext, UnknownExercise, load_checks, run_part
from grader.engine.course import course_root, reference_notebook
from grader.engine.integrity import Integrity, compare
from grader.engine.notebook import InvalidNotebook, Notebook, Part, read_notebook
from grader.engine.remote import Learner
from grader.engine.runs import NotebookRun, Stop
from grader.engine.session import CellsRun, Launcher, Limits, child_environment


@dataclass
class _Plan:
    exercise: str
    submission: Notebook
    reference: Notebook
    checks: dict[str, list[Check]]
    integrity: Integrity


def _plan(path: Path, assumed_exercise: str | None) -> _Plan:
    submission = read_notebook(path)
    exercise = submission.exercise or assumed_exercise
    if not exercise:
        raise InvalidNotebook(
            f"{path}: the notebook does not say which exercise it is (metadata 'grader.exercise'); "
            "start from the notebook in exercises/ and keep its metadata"
        )
    checks, reference = _exercise(exercise, path)
    return _Plan(exercise, submission, reference, checks, compare(submission, reference))


def _exercise(exercise: str, path: Path) -> tuple[dict[str, list[Check]], Notebook]:
    try:
        return load_checks(exercise), reference_notebook(exercise)
    except (UnknownExercise, LookupError) as error:
        raise InvalidNotebook(f"{path}: {error}") from None


def ungraded(path: Path, problem: str, exercise: str | None, status: str = R.INVALID) -> R.Result:
    """A submission whose notebook could not be graded (unusable file, or one that broke the
    grading machinery): when its exercise is known, every part scores 0 of its points, so the
    gradebook shows the real maximum rather than 0 of 0."""
    result = R.Result(str(path), exercise, status, problems=[problem])
    if exercise:
        try:
            _, reference = _exercise(exercise, path)
        except InvalidNotebook:
            return result
        result.parts = [R.PartResult(part.part_id, 0.0, part.points, [R.CheckOutcome(
            "notebook", 1.0, R.NOT_RUN, f"Not checked: {problem}")]) for part in reference.parts()]
    return result


def grade_notebook(path: str | Path, *, exercise: str | None = None, limits: Limits | None = None,
                   seed: int | None = None, launcher: Launcher | None = None, quick: bool = False) -> R.Result:
    """Grade *path*; always returns a :class:`Result`, whatever the notebook does.

    *exercise* is assumed when the notebook does not name one (batch grading places
    submissions by folder). *launcher* starts the child process; batch grading passes a
    ``ZygoteLauncher`` so children fork from a process that imported the heavy modules.
    *quick* runs the checks with the few inputs of the in-notebook ``check()``.
    """
    path = Path(path)
    started = time.monotonic()
    try:
        plan = _plan(path, exercise)
    except InvalidNotebook as error:
        return ungraded(path, str(error), exercise)
    seed = content_seed(plan) if seed is None else seed
    result = _grade(plan, limits or Limits(), seed, launcher, quick)
    result.seconds = time.monotonic() - started
    return result


def content_seed(plan: _Plan) -> int:
    """The checks' seed, a function of what the learner wrote: the same notebook always gets
    the same inputs and so the same grade, while a changed answer gets new inputs."""
    digest = hashlib.sha256(plan.exercise.encode())
    for cell in _execution_cells(plan):
        digest.update(b"\0" + cell["source"].encode())
    return int.from_bytes(digest.digest()[:4], "big")


def _execution_cells(plan: _Plan) -> list[dict]:
    return [{"index": cell.index, "source": plan.integrity.restored.get(cell.index, cell.source)}
            for cell in plan.submission.code_cells]


def _grade(plan: _Plan, limits: Limits, seed: int, launcher: Launcher | None, quick: bool) -> R.Result:
    from grader.stub import StubLLM

    api_key = "sk-stub-" + secrets.token_hex(12)
    stub = StubLLM(api_key=api_key)
    result = R.Result(str(plan.submission.path), plan.exercise, R.GRADED, seed=seed,
                      problems=list(plan.integrity.problems))
    with tempfile.TemporaryDirectory(prefix="grader-") as workdir:
        env = child_environment(Path(workdir), {
            "OPENAI_API_KEY": api_key, "GRADER_DATASETS": str(course_root() / "datasets"),
        })
        notebook = NotebookRun(_execution_cells(plan), Path(workdir), env, limits, launcher, stub)
        try:
            started = time.monotonic()
            run = notebook.start()
            result.cells_seconds = time.monotonic() - started
            context = CheckContext(Learner(notebook.request, settled=notebook.settled), stub, seed, quick=quick,
                                   describe_missing=_missing_describer(plan))
            for part in plan.reference.parts():
                result.parts.append(_grade_part(part, plan, run, notebook, context))
                notebook.after_part(part.part_id)
        finally:
            result.output = notebook.close()
    result.isolation = notebook.isolation
    result.cell_errors = _cell_errors(plan.submission, run)
    result.problems += [f"Your code stopped responding while part '{stop.part_id}' was checked ({stop.detail}); "
                        "the notebook was started again for the parts after it." for stop in notebook.stops]
    result.status = _status(plan, run, notebook.stops)
    return result


def _missing_describer(plan: _Plan):
    def describe(name: str) -> str:
        cell = plan.reference.cell_defining(name)
        where = f"the answer cell '{cell.grade_id}'" if cell and cell.grade_id else "its answer cell"
        return f"`{name}` is not defined: your notebook must define it in {where}"

    return describe


def _grade_part(part: Part, plan: _Plan, run: CellsRun, notebook: NotebookRun,
                context: CheckContext) -> R.PartResult:
    failed_cell = _failed_answer_cell(part, plan.submission, run)
    if failed_cell is not None:
        cell, event = failed_cell
        error = event.get("error", {})
        outcome = R.TIMEOUT if event["status"] in (R.TIMED_OUT, R.CRASHED) else R.RAISED
        message = f"Your code in {cell.label} failed, so this part was not checked: {error.get('message', '')}"
        return R.PartResult(part.part_id, 0.0, part.points, [R.CheckOutcome("cell", 1.0, outcome, message)])
    checks = plan.checks.get(part.part_id)
    if not checks:
        return R.PartResult(part.part_id, 0.0, part.points, [R.CheckOutcome(
            "checks", 1.0, R.CHECK_ERROR, f"No checks are defined for part '{part.part_id}'; "
            "this is a grader problem, please report it.")])
    if notebook.session is None:
        return R.PartResult(part.part_id, 0.0, part.points, [R.CheckOutcome(
            "notebook", 1.0, R.NOT_RUN, f"Not checked: {run.detail}.")])
    return run_part(part.part_id, part.points, checks, context)


def _failed_answer_cell(part: Part, submission: Notebook, run: CellsRun):
    """The answer cell of *part* that failed, if it did. When a learner keeps copies of an
    answer cell, the last one is the answer (it ran last, so its definitions stand), as in Jupyter."""
    for released in part.solution_cells:
        copies = submission.cells_with_grade_id(released.grade_id or "")
        event = run.cells.get(copies[-1].index) if copies else None
        if event and event["status"] != "ok":
            return copies[-1], event
    return None


def _cell_errors(submission: Notebook, run: CellsRun) -> list[dict]:
    errors = []
    for index, event in sorted(run.cells.items()):
        if event["status"] != "ok":
            label = submission.cells[index].label
            errors.append({"cell": label, "status": event["status"], **event.get("error", {})})
    return errors


def _status(plan: _Plan, run: CellsRun, stops: list[Stop]) -> str:
    """The worst thing that happened, in this order: crash, memory, timeout, tampering; a
    child that hung or died while the checks ran counts as its cells would."""
    events = list(run.cells.values())
    events += [{"status": stop.ended_by, "error": {"message": stop.detail}} for stop in stops]

    def message(event: dict) -> str:
        return event.get("error", {}).get("message", "")

    if any(e["status"] == R.CRASHED and "SIGKILL" not in message(e) for e in events):
        return R.CRASHED
    if any(e["status"] == R.CRASHED or e.get("error", {}).get("type") == "MemoryError" for e in events):
        return R.MEMORY_LIMIT
    if any(e["status"] == R.TIMED_OUT for e in events):
        return R.TIMED_OUT
    return R.TAMPERED if plan.integrity.tampered else R.GRADED
