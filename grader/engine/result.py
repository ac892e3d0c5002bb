"""The result of grading one notebook, as printed by ``grader check --json``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Outcomes of one check, from best to worst.
PASSED, FAILED, RAISED, MISSING, TIMEOUT, CHECK_ERROR, NOT_RUN = (
    "passed", "failed", "raised", "missing", "timeout", "check_error", "not_run")

# Notebook statuses.
GRADED, TIMED_OUT, CRASHED, MEMORY_LIMIT, TAMPERED, INVALID = (
    "graded", "timeout", "crashed", "memory_limit", "tampered", "invalid_notebook")
RAN_TO_THE_END = frozenset({GRADED, TAMPERED})  # every cell ran; the others stopped or never started


@dataclass
class CheckOutcome:
    name: str
    weight: float
    outcome: str
    message: str = ""
    hint: str = ""

    @property
    def passed(self) -> bool:
        return self.outcome == PASSED


@dataclass
class PartResult:
    id: str
    points: float
    max_points: float
    checks: list[CheckOutcome] = field(default_factory=list)
    note: str = ""  # e.g. "quick check: final grading uses more inputs"

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    @property
    def feedback(self) -> list[str]:
        lines = [_with_hint(check) for check in self.checks if not check.passed]
        return list(dict.fromkeys(lines))  # the same message from several checks is said once

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PartResult:
        """The inverse of :meth:`to_dict` (a part as stored in a gradebook)."""
        checks = [CheckOutcome(**check) for check in data["checks"]]
        return cls(data["id"], data["points"], data["max_points"], checks, data.get("note", ""))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "points": self.points, "max_points": self.max_points,
                "passed": self.passed, "feedback": self.feedback, "note": self.note,
                "checks": [asdict(check) for check in self.checks]}


def _with_hint(check: CheckOutcome) -> str:
    """A check's hint fits its assertion; when the code raised or hung, the message says it all."""
    if check.outcome != FAILED or not check.hint:
        return check.message
    message = check.message.rstrip()
    return f"{message}{'' if message.endswith(('.', '!', '?')) else '.'} Hint: {check.hint}"


@dataclass
class Result:
    notebook: str
    exercise: str | None
    status: str
    parts: list[PartResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what the learner should know beyond parts
    cell_errors: list[dict] = field(default_factory=list)
    output: str = ""
    seed: int | None = None
    seconds: float = 0.0
    cells_seconds: float = 0.0  # of which running the notebook's cells (the rest: checks, set-up)
    isolation: str = ""  # what contained learner code, e.g. "namespaces + unprivileged uid"

    @property
    def score(self) -> float:
        return round(sum(part.points for part in self.parts), 2)

    @property
    def max_score(self) -> float:
        return round(sum(part.max_points for part in self.parts), 2)

    def to_dict(self) -> dict[str, Any]:
        return {
            "notebook": self.notebook, "exercise": self.exercise, "status": self.status,
            "score": self.score, "max_score": self.max_score,
            "parts": [part.to_dict() for part in self.parts],
            "problems": self.problems, "cell_errors": self.cell_errors,
            "output": self.output, "seed": self.seed, "seconds": round(self.seconds, 3),
            "cells_seconds": round(self.cells_seconds, 3), "isolation": self.isolation,
        }
