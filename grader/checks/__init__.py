"""One checks module per exercise, named after the exercise (``grader.checks.<exercise>``).

What a checks module needs is exported here: ``part`` marks a check, ``make`` asks the
learner's side to build an object (e.g. ``make("openai_client", max_retries=0)``; a
``make("chat_call", ...)`` runs on the grading side, one request per call), and
``LearnerRaised`` is what a check catches when learner code raises, and ``kind(value)``
names a returned value's type as the learner wrote it.

PYTEST_DONT_REWRITE: feedback is the assert message as written, under pytest too.
"""

from grader.engine.checks import part
from grader.engine.remote import LearnerRaised, kind, make

__all__ = ["LearnerRaised", "kind", "make", "part"]
