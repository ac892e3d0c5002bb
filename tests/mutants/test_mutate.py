"""The mutator on small notebooks: each operator makes what it should, only between the markers."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.engine.notebook import parse_notebook
from grader.mutants.mutate import mutate_notebook

ANSWER = '''\
import math

LIMIT = 10  # outside the markers: never mutated


def f(a, b, items, flag=True):
    """A docstring is not behaviour."""
    ### BEGIN SOLUTION
    if a < b and flag:
        return a + b
    if not items:
        raise ValueError("no items")
    total = max(items, key=abs)
    for item in items:
        if item == 0:
            break
        total -= item
    print(f"total {total}")
    return round(total, ndigits=2)
    ### END SOLUTION
'''


def notebook(*cells: tuple[str, str, bool]) -> dict:
    """A notebook of (grade_id, source, is_answer) code cells, each answer followed by its grade cell."""
    raw = []
    for grade_id, source, answer in cells:
        raw.append({"cell_type": "code", "source": source, "outputs": [], "execution_count": None,
                    "metadata": {"nbgrader": {"grade_id": grade_id, "solution": answer, "grade": False,
                                              "locked": not answer}}})
        if answer:
            part = grade_id.removesuffix("-code")
            raw.append({"cell_type": "code", "source": f'check("{part}")', "outputs": [], "execution_count": None,
                        "metadata": {"nbgrader": {"grade_id": part, "grade": True, "solution": False,
                                                  "locked": True, "points": 1}}})
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {"grader": {"exercise": "toy"}}, "cells": raw}


def mutants_of(source: str):
    return mutate_notebook(parse_notebook(notebook(("toy-code", source, True)), Path("toy.ipynb")))


@pytest.fixture(scope="module")
def changes() -> set[tuple[str, str, str]]:
    found = mutants_of(ANSWER)
    assert not found.not_compiling and not found.unparsable_cells
    return {(m.operator, m.was, m.now) for m in found.mutants}


@pytest.mark.parametrize("operator,was,now", [
    ("comparison", "if a < b and flag:", "if a <= b and flag:"),
    ("comparison", "if a < b and flag:", "if a >= b and flag:"),
    ("comparison", "if item == 0:", "if item != 0:"),
    ("arithmetic", "return a + b", "return a - b"),
    ("arithmetic", "total -= item", "total += item"),
    ("operand", "return a + b", "return a"),
    ("operand", "if a < b and flag:", "if flag:"),
    ("boolean", "if a < b and flag:", "if a < b or flag:"),
    ("condition", "if not items:", "if items:"),  # also what dropping `not` gives: made once
    ("condition", "if a < b and flag:", "if not (a < b and flag):"),
    ("constant", "if item == 0:", "if item == 1:"),
    ("constant", "if item == 0:", "if item == -1:"),
    ("constant", "return round(total, ndigits=2)", "return round(total, ndigits=3)"),
    ("return value", "return a + b", "return None"),
    ("removed statement", "total -= item", "pass"),
    ("removed statement", "if not items: ...", "pass"),
    ("keyword argument", "total = max(items, key=abs)", "total = max(items)"),
    ("builtin", "total = max(items, key=abs)", "total = min(items, key=abs)"),
    ("loop", "break", "continue"),
])
def test_each_operator_makes_its_mutant(changes, operator, was, now):
    assert (operator, was, now) in changes


def test_only_code_between_the_markers_is_mutated(changes):
    touched = {was for _, was, _ in changes}
    assert not any("LIMIT" in line or "import" in line or line.startswith("def ") for line in touched)
    assert not any("docstring" in now or "XXno itemsXX" in now or "XXtotal" in now for _, _, now in changes), (
        "docstrings, raised messages and f-string text are prose, not behaviour")


def test_string_and_boolean_constants_and_unary_minus():
    found = {(m.operator, m.was, m.now) for m in mutants_of(
        "def g(x):\n    ### BEGIN SOLUTION\n    return {'key': True, 'neg': -x}\n    ### END SOLUTION\n").mutants}
    was = "return {'key': True, 'neg': -x}"
    assert ("constant", was, "return {'XXkeyXX': True, 'neg': -x}") in found
    assert ("constant", was, "return {'key': False, 'neg': -x}") in found
    assert ("unary", was, "return {'key': True, 'neg': x}") in found


def test_a_mutant_that_does_not_compile_is_skipped():
    source = ("def counter():\n    ### BEGIN SOLUTION\n    count = 0\n\n    def bump():\n        nonlocal count\n"
              "        count += 1\n        return count\n    return bump\n    ### END SOLUTION\n")
    found = mutants_of(source)
    removed = [m for m in found.not_compiling if (m.was, m.now) == ("count = 0", "pass")]
    assert removed, "removing the binding of a nonlocal name cannot compile"
    assert not [m for m in found.mutants if (m.was, m.now) == ("count = 0", "pass")]
    assert found.mutants, "the other mutants are kept"
    for mutant in found.mutants:
        compile(mutant.source, "<mutant>", "exec")


def test_mutants_carry_their_part_cell_and_line_and_replace_only_their_cell():
    raw = notebook(("toy-code", ANSWER, True), ("other-code", "x = 1\n", False))
    solution = parse_notebook(raw, Path("toy.ipynb"))
    found = mutate_notebook(solution)
    mutant = next(m for m in found.mutants if m.now == "if a <= b and flag:")
    assert (mutant.part, mutant.cell, mutant.line) == ("toy", "toy-code", 9)
    mutated = mutant.notebook(solution)
    assert "".join(mutated["cells"][0]["source"]) == mutant.source
    assert mutated["cells"][1:] == raw["cells"][1:]
    assert raw["cells"][0]["source"] == ANSWER, "the solution itself is left alone"


def test_cells_that_are_not_python_are_reported_not_mutated():
    found = mutants_of("### BEGIN SOLUTION\n%pip install nothing\nx = 1\n### END SOLUTION\n")
    assert found.unparsable_cells == ["toy-code"] and not found.mutants


def test_every_mutant_is_distinct_from_the_solution_and_from_each_other():
    found = mutants_of(ANSWER)
    sources = [m.source for m in found.mutants]
    assert len(sources) == len(set(sources))
    assert len(found.mutants) > 30
