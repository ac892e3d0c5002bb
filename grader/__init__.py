"""AI-engineer exercise kit: an offline OpenAI-compatible stub and a notebook auto-grader.

Learners use :func:`check` inside Jupyter; everything else is reached through the
``grader`` command (see ``grader --help``).
"""

from __future__ import annotations

import sys

__all__ = ["check"]

if "ipykernel" in sys.modules:
    # In a Jupyter kernel, route sleeps through the virtual clock now, before the
    # learner's cells bind `time.sleep`, so that checks of backoff code run instantly.
    from grader.engine.clock import install as _install_clock

    _install_clock()


def check(part_id: str) -> float:
    """Check one graded part against the definitions in the running notebook.

    Returns the points (a float that Jupyter displays as the feedback panel); 0 inside the
    grading process, which checks the parts itself.
    """
    from grader.engine.live import check as _check

    return _check(part_id, namespace=sys._getframe(1).f_globals)
