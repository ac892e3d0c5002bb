"""``check("part")`` inside Jupyter: check one part against the kernel's own definitions.

Nothing is re-run: the checks call the functions the learner's cells already defined,
through the same plain-data boundary used when grading, against a stub LLM started
once per kernel. Inside the grading child the call does nothing, because grading runs
the checks itself after the notebook.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from typing import Any

from grader.engine import render
from grader.engine import result as R
from grader.engine.checks import Check, CheckContext, known_exercises, load_checks, run_part
from grader.engine.quiescence import settled_probe
from grader.engine.remote import Learner
from grader.engine.workspace import Workspace

_live_stub: dict[str, Any] = {}


def find_part(part_id: str) -> tuple[str, list[Check]]:
    for exercise in known_exercises():
        checks = load_checks(exercise).get(part_id)
        if checks:
            return exercise, checks
    raise KeyError(f"there is no graded part '{part_id}'; check the spelling in the check(...) call")


def _max_points(exercise: str, part_id: str) -> float:
    from grader.engine.course import reference_notebook

    try:
        parts = reference_notebook(exercise).parts()
    except (LookupError, OSError):
        return 1.0
    return next((part.points for part in parts if part.part_id == part_id), 1.0)


def _stub() -> tuple[Any, str, str]:
    """One stub LLM per kernel, served on loopback so any client the learner builds reaches it."""
    if not _live_stub:
        from grader.stub import StubLLM

        key = "sk-stub-" + secrets.token_hex(12)
        stub = StubLLM(api_key=key)
        server = stub.serve()
        _live_stub.update(stub=stub, server=server, url=server.__enter__().base_url, key=key)
    return _live_stub["stub"], _live_stub["url"], _live_stub["key"]


def _settled_probe(stub: Any) -> Callable[[], bool]:
    """Learner code runs in this kernel, beside the kernel's own threads (ipykernel's, zmq's, which
    wake on their own) and the stub's: watch this thread and the threads started from now on."""
    server = _live_stub["server"]
    kernel = _threads() - {threading.get_native_id()}
    return settled_probe(os.getpid(), server.waiting, lambda: len(stub.requests),
                         ignore=lambda: kernel | server.thread_ids(), children=False)


def _threads() -> set[int]:
    try:
        return {int(task) for task in os.listdir("/proc/self/task")}
    except OSError:  # no /proc: the probe falls back to quiet time and ignores threads
        return set()


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class CheckResult(float):
    """The points a part earned, displayed as its feedback panel.

    A number, so nbgrader's autograde reads the cell's ``text/plain`` (the points) as partial
    credit and code can add results up; Jupyter shows the richest form, the HTML panel, so
    the cell shows the panel once and no separate ``Out[n]: 2.0`` echo.
    """

    part: R.PartResult

    def __new__(cls, part: R.PartResult) -> CheckResult:
        self = super().__new__(cls, round(part.points, 2))
        self.part = part
        return self

    def __getnewargs__(self) -> tuple[R.PartResult]:  # so copy and pickle rebuild it from its part
        return (self.part,)

    def _repr_html_(self) -> str:
        from grader import pages

        return pages.render("part_panel.html", part=self.part)

    def text(self) -> str:
        """The panel as plain text, for a terminal."""
        out = io.StringIO()
        render.console(out).print(render.parts_table([self.part]))
        return "\n".join(line.rstrip() for line in out.getvalue().rstrip().splitlines())


def _in_notebook_frontend() -> bool:
    """Whether a Jupyter frontend will show the returned result's HTML (a kernel, not a terminal)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def _not_run_yet(exercise: str) -> Callable[[str], str]:
    from grader.engine.course import reference_notebook

    def describe(name: str) -> str:
        try:
            cell = reference_notebook(exercise).cell_defining(name)
        except (LookupError, OSError):
            cell = None
        where = f"the cell that defines it ({cell.label})" if cell else "the cell where you wrote it"
        return f"`{name}` is not defined yet: run {where} and the cells above it first"

    return describe


def check(part_id: str, *, namespace: dict[str, Any]) -> float:
    """Run one part's checks now and return the points earned (a :class:`CheckResult`, which
    Jupyter shows as the feedback panel; elsewhere the feedback is printed as text). Inside
    the grading child :func:`grader.check` answers without coming here.
    """
    exercise, checks = find_part(part_id)
    stub, url, key = _stub()
    workspace = Workspace(namespace, in_kernel=True)
    learner = Learner(workspace.run, settled=_settled_probe(stub))
    workspace.ask = learner.answer_callback  # grading-side calls run right here, in the kernel
    context = CheckContext(learner, stub, secrets.randbelow(2**32), quick=True, describe_missing=_not_run_yet(exercise))
    with _environment(OPENAI_BASE_URL=url, OPENAI_API_KEY=key):
        part = run_part(part_id, _max_points(exercise, part_id), checks, context)
    result = CheckResult(part)
    if not _in_notebook_frontend():
        print(result.text())
    return result
