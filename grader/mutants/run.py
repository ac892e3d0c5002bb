"""Grade mutants from warm workers in parallel, and score how many the checks catch.

A mutant is *caught* when its notebook scores less than full marks (a part lost points,
or the notebook timed out or crashed: a learner would lose points too). The score is
caught / (graded - accepted equivalents); it is reported per part, the part being the one
whose answer cell holds the mutant.
"""

from __future__ import annotations

import os
import random
import tempfile
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.engine.course import course_root, reference_notebook
from grader.engine.grade import grade_notebook
from grader.engine.notebook import InvalidNotebook, Notebook, read_notebook
from grader.engine.session import Limits
from grader.engine.zygote import ZygoteLauncher
from grader.mutants.cache import VerdictCache, checks_source, verdict_key
from grader.mutants.equivalent import Equivalent, equivalents_path, load_equivalents
from grader.mutants.mutate import Mutant, Mutants, mutate_notebook

# Tighter than a learner's defaults: a mutant that loops forever should cost seconds, not minutes.
LIMITS = Limits(cell_seconds=10, notebook_seconds=60, call_seconds=5, memory_mb=1024)
Verdict = dict[str, Any]  # {"caught": bool, "status": str, "lost": {part: points}, "why": str}


class SolutionNotFullMarks(Exception):
    """The unmutated solution already loses points, so no mutant's verdict would mean anything."""


@dataclass
class Plan:
    """What to grade for one solution notebook."""

    path: Path
    solution: Notebook
    exercise: str
    generated: Mutants
    sampled: list[Mutant]
    accepted: list[Equivalent]


@dataclass
class Report:
    plan: Plan
    verdicts: list[tuple[Mutant, Verdict]] = field(default_factory=list)
    from_cache: int = 0

    def equivalent_reason(self, mutant: Mutant, verdict: Verdict) -> str | None:
        """The reason an accepted entry gives for this survivor; a caught mutant is never equivalent
        (an entry can match two identical lines, one of which the checks do tell apart)."""
        if verdict["caught"]:
            return None
        for accepted in self.plan.accepted:
            if accepted.matches(mutant.cell, mutant.was, mutant.now):
                return accepted.reason
        return None

    @property
    def counted(self) -> list[tuple[Mutant, Verdict]]:
        return [(m, v) for m, v in self.verdicts if self.equivalent_reason(m, v) is None]

    @property
    def equivalent(self) -> list[tuple[Mutant, str]]:
        return [(m, reason) for m, v in self.verdicts if (reason := self.equivalent_reason(m, v)) is not None]

    @property
    def survivors(self) -> list[Mutant]:
        return [m for m, v in self.counted if not v["caught"]]

    @property
    def score(self) -> float:
        counted = self.counted
        return sum(v["caught"] for _, v in counted) / len(counted) if counted else 1.0

    def by_part(self) -> dict[str, tuple[int, int, int]]:
        """part -> (mutants counted, caught, accepted as equivalent), in the notebook's order."""
        table = {part.part_id: [0, 0, 0] for part in self.plan.solution.parts()}
        for mutant, verdict in self.counted:
            table[mutant.part][0] += 1
            table[mutant.part][1] += bool(verdict["caught"])
        for mutant, _ in self.equivalent:
            table[mutant.part][2] += 1
        return {part: (n, caught, equal) for part, (n, caught, equal) in table.items() if n or equal}

    @property
    def unused_acceptances(self) -> list[Equivalent]:
        """Accepted mutants the mutator no longer makes (the solution changed), or that were all caught
        in a full run (a check now tells them apart): stale entries."""
        if len(self.plan.sampled) < len(self.plan.generated.mutants):
            pool = [(m, {"caught": False}) for m in self.plan.generated.mutants]  # a sample proves nothing
        else:
            pool = self.verdicts
        return [a for a in self.plan.accepted
                if not any(a.matches(m.cell, m.was, m.now) and not v["caught"] for m, v in pool)]


def plan(path: str | Path, *, max_mutants: int | None = None, seed: int = 0) -> Plan:
    """Read a solution notebook, make its mutants and pick a sample of them (all if no *max_mutants*)."""
    path = Path(path)
    solution = read_notebook(path)
    if not solution.exercise:
        raise InvalidNotebook(f"{path}: no exercise in the notebook metadata ('grader.exercise')")
    generated = mutate_notebook(solution)
    sampled = list(generated.mutants)
    if max_mutants is not None and max_mutants < len(sampled):
        picked = sorted(random.Random(seed).sample(range(len(sampled)), max_mutants))
        sampled = [sampled[i] for i in picked]
    accepted = load_equivalents(equivalents_path(course_root(), solution.exercise))
    return Plan(path, solution, solution.exercise, generated, sampled, accepted)


class MutantGrader:
    """Grades notebooks on *jobs* threads, each forking children from its own warm zygote."""

    def __init__(self, jobs: int | None = None, limits: Limits = LIMITS):
        self.jobs = jobs or os.cpu_count() or 1
        self.limits = limits
        self._pool = ThreadPoolExecutor(self.jobs, thread_name_prefix="mutants")
        self._local = threading.local()
        self._launchers: list[ZygoteLauncher] = []
        self._folder = tempfile.TemporaryDirectory(prefix="grader-mutants-")
        self._count = 0
        self._lock = threading.Lock()

    def submit(self, notebook_text: str) -> Future[Verdict]:
        with self._lock:
            self._count += 1
            path = Path(self._folder.name) / f"mutant-{self._count}.ipynb"
        path.write_text(notebook_text, encoding="utf-8")
        return self._pool.submit(self._grade, path)

    def _grade(self, path: Path) -> Verdict:
        if not hasattr(self._local, "launcher"):
            self._local.launcher = ZygoteLauncher()
            with self._lock:
                self._launchers.append(self._local.launcher)
        try:
            result = grade_notebook(path, limits=self.limits, launcher=self._local.launcher)
        finally:
            path.unlink(missing_ok=True)
        lost = {part.id: round(part.max_points - part.points, 4) for part in result.parts
                if part.points < part.max_points}
        why = next((line for part in result.parts for line in part.feedback), "; ".join(result.problems))
        caught = result.max_score > 0 and result.score < result.max_score
        return {"caught": caught, "status": result.status, "lost": lost, "why": why[:300]}

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        for launcher in self._launchers:
            launcher.close()
        self._folder.cleanup()

    def __enter__(self) -> MutantGrader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _context(plan: Plan, grader: MutantGrader) -> dict[str, Any]:
    reference = reference_notebook(plan.exercise)
    return {"checks": checks_source(plan.exercise), "reference": reference.path.read_text(encoding="utf-8"),
            "limits": repr(grader.limits)}


@dataclass
class _Job:
    report: Report
    mutant: Mutant | None  # None: the unmutated solution, graded first as the baseline
    key: str
    verdict: Verdict | None = None
    future: Future[Verdict] | None = None


def grade_plans(plans: Iterable[Plan], grader: MutantGrader, cache: VerdictCache | None = None,
                progress: Callable[[int, int], None] | None = None) -> list[Report]:
    """Grade every sampled mutant of every plan at once (so all workers stay busy); cached
    verdicts are reused. Raises :class:`SolutionNotFullMarks` if a solution loses points."""
    reports = [Report(plan) for plan in plans]
    jobs: list[_Job] = []
    for report in reports:
        context = _context(report.plan, grader)
        items: list[tuple[Mutant | None, str]] = [(None, report.plan.path.read_text(encoding="utf-8"))]
        items += [(m, m.notebook_text(report.plan.solution)) for m in report.plan.sampled]
        for mutant, text in items:
            job = _Job(report, mutant, verdict_key(text, context))
            job.verdict = cache.get(job.key) if cache else None
            if job.verdict is None:
                job.future = grader.submit(text)
            elif mutant is not None:
                report.from_cache += 1
            jobs.append(job)
    for done, job in enumerate(jobs, start=1):
        if job.future is not None:
            job.verdict = job.future.result()
            if cache:
                cache.put(job.key, job.verdict)
        if progress:
            progress(done, len(jobs))
        verdict = job.verdict
        if job.mutant is not None:
            job.report.verdicts.append((job.mutant, verdict))
        elif verdict["caught"] or verdict["status"] != "graded":
            raise SolutionNotFullMarks(
                f"{job.report.plan.path}: the solution itself does not get full marks ({verdict['status']}: "
                f"{verdict['why']}); fix it (or its checks) before measuring the checks with mutants")
    return reports
