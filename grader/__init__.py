"""AI-engineer exercise kit: an offline OpenAI-compatible stub and a notebook auto-grader.

Learners use :func:`check` inside Jupyter; everything else is reached through the
``grader`` command (see ``grader --help``).
"""

from __future__ import annotations

__all__ = ["check"]


def check(part_id: str, *, namespace: dict | None = None):
    """Check one graded part against the definitions in the running notebook."""
    from grader.engine.live import check as _check

    return _check(part_id, namespace=namespace)
