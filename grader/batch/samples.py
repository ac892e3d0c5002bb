"""Realistic learner submissions built from the reference solutions: the demo's data, and
the test and benchmark batches. Each variant is one thing learners really hand in."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grader.engine.course import course_root

Notebook = dict[str, Any]
MEAN, ASK = "sample-mean-code", "sample-ask-code"


def _answer(grade_id: str, source: str) -> Callable[[Notebook], Notebook]:
    def change(raw: Notebook) -> Notebook:
        for cell in raw["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
                cell["source"] = source
        return raw

    return change


def _released(raw: Notebook) -> Notebook:
    return json.loads((course_root() / "exercises" / "00_sample.ipynb").read_text())


def _cleared_metadata(raw: Notebook) -> Notebook:
    raw["metadata"].pop("grader", None)
    return raw


def _edited_check(raw: Notebook) -> Notebook:
    return _answer("sample-mean", "print('skipping the check')\n")(raw)


def _deleted_check(raw: Notebook) -> Notebook:
    raw["cells"] = [cell for cell in raw["cells"]
                    if cell["metadata"].get("nbgrader", {}).get("grade_id") != "sample-ask"]
    return raw


# name -> (what it is, how it differs from the solution)
VARIANTS: dict[str, tuple[str, Callable[[Notebook], Notebook]]] = {
    "full_marks": ("the reference solution", lambda raw: raw),
    "empty_list": ("mean([]) divides by zero: partial marks",
                   _answer(MEAN, "def mean(values):\n    return sum(values) / len(values)\n")),
    "no_timeout": ("ask() builds the client without a timeout: partial marks",
                   _answer(ASK, "from openai import OpenAI\n\n\ndef ask(question, model='gpt-4o-mini'):\n"
                                "    client = OpenAI()\n    response = client.chat.completions.create(\n"
                                "        model=model, messages=[{'role': 'user', 'content': question}])\n"
                                "    return response.choices[0].message.content\n")),
    "returns_response": ("ask() returns the whole response object, not its text",
                         _answer(ASK, "from openai import OpenAI\n\n\ndef ask(question, model='gpt-4o-mini'):\n"
                                      "    client = OpenAI(timeout=10)\n    return client.chat.completions.create("
                                      "\n        model=model, messages=[{'role': 'user', 'content': question}])\n")),
    "integer_mean": ("mean() uses floor division and returns an int",
                     _answer(MEAN, "def mean(values):\n    return sum(values) // len(values) if values else 0\n")),
    "not_answered": ("the released notebook, handed in untouched", _released),
    "syntax_error": ("a syntax error in the answer to part 1",
                     _answer(MEAN, "def mean(values):\n    return (sum(values) / len(values)\n")),
    "infinite_loop": ("a loop that never ends in part 1: times out",
                      _answer(MEAN, "def mean(values):\n    total = 0\n    while True:\n        total += 1\n\n"
                                    "mean([1])\n")),
    "crash": ("kills its own interpreter (os._exit) in part 1",
              _answer(MEAN, "import os\nos._exit(3)\n")),
    "tampered": ("edited a locked check cell to skip the check", _edited_check),
    "deleted_check": ("deleted the locked check cell of part 2", _deleted_check),
    "cleared_metadata": ("the notebook's grader metadata was deleted (placed by its folder)", _cleared_metadata),
}


@functools.cache
def _solution() -> Notebook:
    return json.loads((course_root() / "solutions" / "00_sample.ipynb").read_text())


def variant(name: str) -> str:
    """The notebook text of one variant."""
    return json.dumps(VARIANTS[name][1](copy.deepcopy(_solution())), indent=1)


def write_batch(root: Path, count: int, names: list[str] | None = None, layout: str = "nbgrader") -> list[Path]:
    """Write *count* submissions cycling through *names* (default: all variants); returns their paths.

    Learner ``learner007`` gets variant ``names[7 % len(names)]``. *layout* is ``nbgrader``
    (``submitted/<learner>/sample/00_sample.ipynb``), ``folders`` or ``flat``.
    """
    names = names or list(VARIANTS)
    texts = {name: variant(name) for name in names}
    paths = []
    for index in range(count):
        learner = f"learner{index:03d}"
        relative = {"nbgrader": f"submitted/{learner}/sample/00_sample.ipynb",
                    "folders": f"{learner}/00_sample.ipynb", "flat": f"{learner}.ipynb"}[layout]
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(texts[names[index % len(names)]], encoding="utf-8")
        paths.append(path)
    return paths


# The demo course (datasets/sample_submissions): learner -> variant. Two more files are not
# variants: a truncated upload and a text file handed in instead of the notebook.
DEMO_LEARNERS = {
    "ada": "full_marks", "boris": "empty_list", "chen": "no_timeout", "dana": "returns_response",
    "emeka": "integer_mean", "farah": "not_answered", "gus": "syntax_error", "hana": "infinite_loop",
    "ivan": "crash", "jo": "tampered", "kemal": "cleared_metadata", "nina": "deleted_check",
}
TRUNCATED_LEARNER, STRAY_FILE = "lena", "mo/answers.txt"


# Learners who hand in every other exercise of the kit: the solution, the blank exercise, or
# the solution with the n-th of its demo mistakes (one common mistake, in a part of its own).
PILLAR_LEARNERS: dict[str, str | int] = {"omar": "solution", "priya": "blank", "quinn": 0, "rosa": 1, "sam": 2}


def demo_files() -> dict[str, str]:
    """Relative path -> text of every file in the demo course, built from the current solutions."""
    files = {f"{learner}/sample/00_sample.ipynb": variant(name) for learner, name in DEMO_LEARNERS.items()}
    full = variant("full_marks")
    files[f"{TRUNCATED_LEARNER}/sample/00_sample.ipynb"] = full[: len(full) // 3]
    files[STRAY_FILE] = "I wrote my answers here instead of in the notebook.\n"
    for solution in sorted((course_root() / "solutions").glob("*.ipynb")):
        raw = json.loads(solution.read_text(encoding="utf-8"))
        exercise = raw["metadata"]["grader"]["exercise"]
        if exercise != "sample":
            for learner, what in PILLAR_LEARNERS.items():
                files[f"{learner}/{exercise}/{solution.name}"] = _pillar_submission(raw, solution.name, what)
    return files


def _pillar_submission(solution: Notebook, name: str, what: str | int) -> str:
    if what == "solution":
        return json.dumps(solution, indent=1)
    if what == "blank":
        return (course_root() / "exercises" / name).read_text(encoding="utf-8")
    mistake_name, mistake = demo_mistakes(solution["metadata"]["grader"]["exercise"])[int(what)]
    return json.dumps(_mistakes().apply(solution, mistake_name, mistake), indent=1)


def demo_mistakes(exercise: str) -> list[tuple[str, Any]]:
    """Three of the exercise's common mistakes, each in a different part (the first by name)."""
    chosen: dict[str, tuple[str, Any]] = {}
    for mistake_name, mistake in sorted(_mistakes().load(exercise).items()):
        chosen.setdefault(mistake.part, (mistake_name, mistake))
    return list(chosen.values())[:3]


def _mistakes() -> Any:
    """The kit's catalogue of common mistakes, ``tests/exercises/mistakes`` of the source checkout
    (like the solutions this module builds on, it is never installed)."""
    import importlib
    import sys

    root = str(course_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module("tests.exercises.mistakes")


def write_demo(submitted: Path) -> None:
    """(Re)write the demo course under *submitted* (nbgrader's ``submitted/`` folder)."""
    for relative, text in demo_files().items():
        path = submitted / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
