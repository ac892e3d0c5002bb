"""Collect an exercise's checks and run them, one graded part at a time.

A check is a pytest-style test function in ``grader/checks/<exercise>.py`` marked with
``@part("<grade_id>")``. Its parameters name the fixtures it needs:

* ``nb``     the notebook's definitions (see ``remote.Learner``)
* ``stub``   the stub LLM the notebook talks to, reset before every check
* ``rng``    a ``random.Random`` seeded per grading run, so hard-coded answers fail
* ``quick``  True inside Jupyter, where a check should use fewer inputs

A failed ``assert``'s message is the feedback; the hint says how to fix it. The part's
points are shared among its checks by weight.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import random
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from grader.engine import result as R
from grader.engine.remote import Learner, LearnerRaised, LearnerTimeout, MissingDefinition
from grader.engine.session import ChildGone

FIXTURES = ("nb", "stub", "rng", "quick")


class UnknownExercise(Exception):
    """No checks module exists for the exercise a notebook names."""


@dataclass(frozen=True)
class Check:
    part_id: str
    name: str
    function: Callable[..., Any]
    weight: float
    hint: str
    fixtures: tuple[str, ...]


def part(part_id: str, *, weight: float = 1.0, hint: str = "") -> Callable:
    """Mark a test function as a check of graded part *part_id*."""

    def mark(function: Callable) -> Callable:
        function.__grader_part__ = (part_id, weight, hint)
        return function

    return mark


def load_checks(exercise: str) -> dict[str, list[Check]]:
    """The checks of *exercise*, grouped by part id, in definition order."""
    if not exercise.isidentifier():
        raise UnknownExercise(f"'{exercise}' is not a valid exercise name")
    try:
        module = importlib.import_module(f"grader.checks.{exercise}")
    except ModuleNotFoundError as error:
        if error.name != f"grader.checks.{exercise}":
            raise
        raise UnknownExercise(
            f"unknown exercise '{exercise}' (known: {', '.join(known_exercises()) or 'none'})"
        ) from None
    return collect(module)


def known_exercises() -> list[str]:
    import grader.checks

    return sorted(info.name for info in pkgutil.iter_modules(grader.checks.__path__))


def collect(module: ModuleType) -> dict[str, list[Check]]:
    parts: dict[str, list[Check]] = {}
    for name, function in vars(module).items():
        marker = getattr(function, "__grader_part__", None)
        if marker is None or not callable(function):
            continue
        part_id, weight, hint = marker
        fixtures = tuple(inspect.signature(function).parameters)
        unknown = [f for f in fixtures if f not in FIXTURES]
        if unknown:
            raise TypeError(f"{module.__name__}.{name} asks for unknown fixtures {unknown}; "
                            f"available: {', '.join(FIXTURES)}")
        parts.setdefault(part_id, []).append(Check(part_id, name, function, weight, hint, fixtures))
    return parts


@dataclass
class CheckContext:
    learner: Learner
    stub: Any
    seed: int
    quick: bool
    describe_missing: Callable[[str], str] = lambda name: f"the notebook does not define `{name}`"

    def __post_init__(self) -> None:
        if self.learner is not None:
            self.learner.stub = self.stub  # where grading-side calls (make("chat_call")) go


def run_check(check: Check, context: CheckContext) -> R.CheckOutcome:
    """Run one check; every way it can end becomes an outcome, never an exception."""
    if context.stub is not None:
        context.stub.reset()
    available = {
        "nb": context.learner,
        "stub": context.stub,
        "rng": random.Random(f"{context.seed}:{check.part_id}:{check.name}"),
        "quick": context.quick,
    }
    outcome = R.CheckOutcome(check.name, check.weight, R.PASSED, hint=check.hint)
    try:
        check.function(**{name: available[name] for name in check.fixtures})
    except AssertionError as error:
        outcome.outcome, outcome.message = R.FAILED, str(error) or f"{check.name} failed"
    except LearnerRaised as error:
        outcome.outcome = R.RAISED
        outcome.message = f"Your code raised {error.type_name}: {error.message}"
        if error.is_a("NotImplementedError"):
            outcome.message = ("Not answered yet: your code still raises NotImplementedError; replace "
                               "`raise NotImplementedError()` with your answer.")
            outcome.hint = ""
    except MissingDefinition as error:
        outcome.outcome, outcome.message = R.MISSING, context.describe_missing(error.name) + "."
        outcome.hint = ""
    except LearnerTimeout:
        outcome.outcome = R.TIMEOUT
        outcome.message = "Your code did not finish in time (an endless loop or a wait that never ends?)."
    except ChildGone as error:
        outcome.outcome, outcome.message = R.TIMEOUT, f"Your code stopped responding: {error}."
    except Exception as error:  # a fault in the check itself: say so, never blame the learner
        outcome.outcome = R.CHECK_ERROR
        outcome.message = (f"The check could not run ({type(error).__name__}: {error}); "
                           "this is a grader problem, please report it.")
        outcome.hint = ""
    return outcome


def score_part(part_id: str, max_points: float, outcomes: list[R.CheckOutcome], note: str = "") -> R.PartResult:
    total = sum(o.weight for o in outcomes) or 1.0
    earned = sum(o.weight for o in outcomes if o.passed)
    return R.PartResult(part_id, round(max_points * earned / total, 2), max_points, outcomes, note)


QUICK_NOTE = ("Quick check with a few random inputs; final grading uses more and different ones, "
              "so a pass here is not a guaranteed score.")


def run_part(part_id: str, max_points: float, checks: list[Check], context: CheckContext) -> R.PartResult:
    outcomes = [run_check(check, context) for check in checks]
    note = QUICK_NOTE if context.quick and any("quick" in c.fixtures for c in checks) else ""
    return score_part(part_id, max_points, outcomes, note)
