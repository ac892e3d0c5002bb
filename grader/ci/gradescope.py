"""Gradescope: the autograder zip (``setup.sh``, ``run_autograder``, the kit's wheel, a
config) and what ``run_autograder`` does, grading ``/autograder/submission`` into
``/autograder/results/results.json``.

The results follow Gradescope's autograder specification ("Autograder Specifications",
gradescope-autograders.readthedocs.io/en/latest/specs/): a ``tests`` list with ``name``,
``number``, ``score``, ``max_score``, ``status``, ``output`` and ``visibility`` per graded
part, and the total ``score`` (equal to ``grader check --json``'s).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from grader.ci.integrations import template
from grader.ci.names import feedback_text, notebook_label, points, problem_text, test_name
from grader.ci.run import Report, grade_paths, notebooks_in
from grader.engine import result as R

CONFIG = "grader-gradescope.json"


def build_autograder(out: Path, *, install: str | None, exercises: list[str], visibility: str,
                     stdout_visibility: str) -> Path:
    """Write the zip to upload as a Gradescope programming assignment's autograder."""
    from grader.engine.checks import known_exercises

    unknown = sorted(set(exercises) - set(known_exercises()))
    if unknown:
        raise ValueError(f"unknown exercise {', '.join(unknown)} (known: {', '.join(known_exercises())})")
    config = {"exercises": exercises, "visibility": visibility, "stdout_visibility": stdout_visibility}
    with tempfile.TemporaryDirectory(prefix="grader-gradescope-") as scratch:
        wheel = _wheel(install, Path(scratch))
        requirement = f"/autograder/source/{wheel.name}" if wheel else install
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            _add(archive, "setup.sh", template("gradescope_setup.sh").substitute(install=shlex.quote(requirement)))
            _add(archive, "run_autograder", template("gradescope_run_autograder").template)
            _add(archive, CONFIG, json.dumps(config, indent=2) + "\n", executable=False)
            if wheel:
                archive.write(wheel, wheel.name)
    return out


def _add(archive: zipfile.ZipFile, name: str, text: str, executable: bool = True) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (0o755 if executable else 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, text)


def _wheel(install: str | None, scratch: Path) -> Path | None:
    """The wheel to ship: a given ``.whl``, or one built from the checkout when no *install* is
    given; ``None`` when *install* is a requirement pip fetches on Gradescope."""
    if install and install.endswith(".whl"):
        wheel = Path(install)
        if not wheel.is_file():
            raise FileNotFoundError(f"{wheel}: no such wheel")
        return wheel
    if install:
        return None
    from grader.engine.course import KIT_ROOT, is_checkout

    if not is_checkout(KIT_ROOT):
        raise ValueError("this kit is installed, not a checkout, so it cannot build its own wheel; "
                         "pass --install with a requirement (ai-engineer-kit==VERSION, git+https://...) or a .whl")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(scratch),
                    str(KIT_ROOT)], check=True)
    return next(scratch.glob("*.whl"))


def run_autograder(root: Path) -> dict[str, Any]:
    """Grade ``root/submission`` as configured in ``root/source``; write and return the results."""
    started = time.monotonic()
    config = json.loads((root / "source" / CONFIG).read_text(encoding="utf-8"))
    submission = root / "submission"
    # One exercise configured: a notebook that lost its metadata is graded as that exercise.
    only = config["exercises"][0] if len(config["exercises"]) == 1 else None
    found = notebooks_in([submission], every_notebook=True)
    report = grade_paths([submission], exercise=only, every_notebook=True) if found else Report([])
    notes = _keep_assignment(report, config["exercises"], submission)
    results = gradescope_results(report, config, notes, time.monotonic() - started)
    (root / "results").mkdir(parents=True, exist_ok=True)
    (root / "results" / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n",
                                                   encoding="utf-8")
    return results


def _keep_assignment(report: Report, exercises: list[str], submission: Path) -> list[str]:
    """With the assignment's exercises configured: notebooks of other exercises do not count,
    and a missing one scores 0 of its points rather than vanishing from the total."""
    if not exercises:
        return []
    from grader.engine.grade import grade_notebook

    notes = [f"{Path(r.notebook).name} is for exercise '{r.exercise}', which this assignment does not grade"
             for r in report.results if r.exercise and r.exercise not in exercises]
    report.results = [r for r in report.results if r.exercise is None or r.exercise in exercises]
    for exercise in exercises:
        if not any(r.exercise == exercise for r in report.results):
            notes.append(f"no notebook for exercise '{exercise}' was submitted")
            report.results.append(grade_notebook(submission / f"{exercise}.ipynb", exercise=exercise))
    return notes


def gradescope_results(report: Report, config: dict[str, Any], notes: list[str] | None = None,
                       seconds: float = 0.0) -> dict[str, Any]:
    visibility = config["visibility"]
    tests = []
    for number, result in enumerate(report.results, start=1):
        if result.status == R.INVALID:
            tests.append({"name": notebook_label(result), "number": f"{number}", "score": 0, "max_score": 0,
                          "status": "failed", "output": problem_text(result), "visibility": visibility})
        for index, part in enumerate(result.parts, start=1):
            output = feedback_text(part) or "All checks passed."
            tests.append({"name": test_name(result, part), "number": f"{number}.{index}",
                          "score": points(part.points), "max_score": points(part.max_points),
                          "status": "passed" if part.passed else "failed", "output": output,
                          "visibility": visibility})
    lines = [f"{points(report.score)} / {points(report.max_score)} points"]
    lines += [f"{notebook_label(r)}: {points(r.score)} / {points(r.max_score)}" for r in report.results]
    lines += [f"{notebook_label(r)}: {problem}" for r in report.results if r.status != R.INVALID
              for problem in r.problems]
    lines += notes or []
    if not report.results:
        lines.append("no notebooks (.ipynb) were submitted")
    return {"score": points(report.score), "execution_time": round(seconds), "output": "\n".join(lines),
            "output_format": "text", "visibility": visibility,
            "stdout_visibility": config["stdout_visibility"], "tests": tests}
