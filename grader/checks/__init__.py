"""One checks module per exercise, named after the exercise (``grader.checks.<exercise>``).

What a checks module needs is exported here: ``part`` marks a check, ``make`` asks the
learner's side to build an object (e.g. ``make("openai_client", max_retries=0)``,
``make("annotation", spec={"type": ["integer", "string"]})``; a ``make("chat_call", ...)``
runs on the grading side, one request per call; ``nb.hold(value)`` keeps a value there, to
read back what learner code did to it), and
``LearnerRaised`` is what a check catches when learner code raises (``unanswered(error)``
passes on the "not answered yet" case), ``kind(value)`` names a returned value's type as
the learner wrote it, and ``fail(message)`` fails a check with its feedback.

PYTEST_DONT_REWRITE: feedback is the assert message as written, under pytest too.
"""

from typing import NoReturn

from grader.engine.checks import part
from grader.engine.remote import LearnerRaised, kind, make

__all__ = ["LearnerRaised", "fail", "kind", "make", "part", "unanswered"]


def fail(message: str) -> NoReturn:
    """Fail the check; *message* is the learner's feedback."""
    raise AssertionError(message)


def unanswered(error: LearnerRaised) -> None:
    """Re-raise NotImplementedError so the engine reports the part as not answered yet."""
    if error.is_a("NotImplementedError"):
        raise error
