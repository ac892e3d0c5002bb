"""AI-engineer exercise kit: an offline OpenAI-compatible stub and a notebook auto-grader.

Learners use :func:`check` inside Jupyter; everything else is reached through the
``grader`` command (see ``grader --help``).
"""

from __future__ import annotations

import os
import sys

__all__ = ["check"]

if "ipykernel" in sys.modules:
    # In a Jupyter kernel, route sleeps through the virtual clock now, before the
    # learner's cells bind `time.sleep`, so that checks of backoff code run instantly.
    from grader.engine.clock import install as _install_clock

    _install_clock()


def check(part_id: str) -> float:
    """Check one graded part against the definitions in the running notebook.

    Returns the points (a float that Jupyter displays as the feedback panel). Inside the
    grading child it returns 0 at once, without importing the checking machinery: the grader
    checks the parts itself after the notebook has run. Never None there, which nbgrader
    would count as full credit if learner code set ``GRADER_CHILD`` under ``nbgrader autograde``.
    """
    if os.environ.get("GRADER_CHILD"):
        print(f"[{part_id}: checked by the grader after the notebook has run]")
        return 0.0
    from grader.engine.live import check as _check

    return _check(part_id, namespace=sys._getframe(1).f_globals)
