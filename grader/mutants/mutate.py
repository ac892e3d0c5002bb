"""Mutants of a solution notebook: one small bug each, only in code between the markers.

Why not a mutation library: mutmut, cosmic-ray and mutatest mutate files of a package and
run a test command per mutant (cosmic-ray also brings a database, a web server and git
bindings); none takes a code string, a line range to stay inside, and hands the mutant
back. Notebook cells need exactly that, so the mutator is this small ``ast`` walk.

Each mutation rewrites one node of a cell's syntax tree and the cell is unparsed whole
(comments go, meaning stays), which rules out precedence and indentation slips. Only
nodes entirely between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are touched, never
docstrings, f-string internals or the text of a raised error's message (prose, not
behaviour). A mutant that does not compile is kept aside as skipped, never graded.
"""

from __future__ import annotations

import ast
import copy
import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from grader.engine.notebook import Cell, Notebook
from grader.engine.release import BEGIN, END

COMPARE_SWAPS: dict[type, tuple[type, ...]] = {
    ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,),
    ast.Lt: (ast.LtE, ast.GtE), ast.LtE: (ast.Lt, ast.Gt),
    ast.Gt: (ast.GtE, ast.LtE), ast.GtE: (ast.Gt, ast.Lt),
    ast.Is: (ast.IsNot,), ast.IsNot: (ast.Is,), ast.In: (ast.NotIn,), ast.NotIn: (ast.In,),
}
BINOP_SWAPS: dict[type, tuple[type, ...]] = {
    ast.Add: (ast.Sub,), ast.Sub: (ast.Add,), ast.Mult: (ast.Div,), ast.Div: (ast.Mult,),
    ast.FloorDiv: (ast.Div,), ast.Mod: (ast.FloorDiv,), ast.Pow: (ast.Mult,),
    ast.BitOr: (ast.BitAnd,), ast.BitAnd: (ast.BitOr,),
}
BUILTIN_SWAPS = {"min": "max", "max": "min", "any": "all", "all": "any"}
COMPILE_FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT  # notebook cells may await at top level


@dataclass(frozen=True)
class Mutant:
    """One mutated answer cell, and how to show it in one line."""

    cell: str  # grade_id (or label) of the answer cell
    cell_index: int
    part: str  # the graded part whose answer cells hold it
    line: int  # line in the original cell
    operator: str
    was: str  # the changed line before (as unparsed) ...
    now: str  # ... and after
    source: str  # the whole mutated cell

    @property
    def diff(self) -> str:
        return f"{self.cell}:{self.line}: {self.was}  ->  {self.now}"

    def notebook(self, solution: Notebook) -> dict[str, Any]:
        """The solution's JSON with this mutant's cell in place of the original."""
        raw = copy.deepcopy(solution.raw)
        raw["cells"][self.cell_index]["source"] = self.source.splitlines(keepends=True)
        return raw

    def notebook_text(self, solution: Notebook) -> str:
        return json.dumps(self.notebook(solution), sort_keys=True, ensure_ascii=False)


@dataclass
class Mutants:
    mutants: list[Mutant] = field(default_factory=list)
    not_compiling: list[Mutant] = field(default_factory=list)
    unparsable_cells: list[str] = field(default_factory=list)  # answer cells that are not plain Python


def solution_regions(source: str) -> list[tuple[int, int]]:
    """(begin, end) line numbers (1-based) of each BEGIN/END SOLUTION marker pair."""
    regions, begin = [], None
    for number, line in enumerate(source.split("\n"), start=1):
        if line.strip() == BEGIN:
            begin = number
        elif line.strip() == END and begin is not None:
            regions.append((begin, number))
            begin = None
    return regions


def mutate_notebook(notebook: Notebook) -> Mutants:
    """Every mutant of every answer cell of *notebook*, in cell and source order."""
    found = Mutants()
    for part in notebook.parts():
        for cell in part.solution_cells:
            if cell.cell_type != "code" or not solution_regions(cell.source):
                continue
            try:
                mutate_cell(cell, part.part_id, found)
            except SyntaxError:
                found.unparsable_cells.append(cell.grade_id or cell.label)
    return found


def mutate_cell(cell: Cell, part: str, found: Mutants) -> None:
    tree = ast.parse(cell.source)
    original = ast.unparse(tree)
    seen = {original}
    regions = solution_regions(cell.source)
    skip = _untouchable(tree)
    for position, node in enumerate(ast.walk(tree)):
        if id(node) in skip or not _inside(node, regions):
            continue
        for operator, replacement in _mutations(node):
            mutated = copy.deepcopy(tree)
            _replace(mutated, position, replacement)
            source = ast.unparse(ast.fix_missing_locations(mutated))
            if source in seen:
                continue
            seen.add(source)
            was, now = _changed_line(original, source)
            mutant = Mutant(cell.grade_id or cell.label, cell.index, part, _located(node).lineno, operator, was, now,
                            source + "\n")
            (found.mutants if _compiles(source) else found.not_compiling).append(mutant)


def _inside(node: ast.AST, regions: list[tuple[int, int]]) -> bool:
    node = _located(node)
    start, end = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
    if start is None or end is None:
        return False
    return any(begin < start and end < stop for begin, stop in regions)


def _located(node: ast.AST) -> ast.AST:
    """The node itself, or for a comprehension (which has no position of its own) its iterable."""
    return node.iter if isinstance(node, ast.comprehension) else node


def _untouchable(tree: ast.AST) -> set[int]:
    """Nodes whose change is not a behaviour change: docstrings, f-string parts, error texts."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and \
                    isinstance(first.value.value, str):
                skip.update(id(n) for n in ast.walk(first))
        if isinstance(node, ast.JoinedStr):
            skip.update(id(n) for n in ast.walk(node) if n is not node)
        if isinstance(node, ast.Raise) and node.exc is not None:
            skip.update(id(n) for n in ast.walk(node.exc)
                        if isinstance(n, (ast.Constant, ast.JoinedStr)) and isinstance(getattr(n, "value", ""), str))
    return skip


def _mutations(node: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    """(operator name, replacement node) for each mutation of *node* itself."""
    yield from _operator_mutations(node)
    yield from _value_mutations(node)
    yield from _statement_mutations(node)


def _operator_mutations(node: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            for swap in COMPARE_SWAPS.get(type(op), ()):
                new = copy.deepcopy(node)
                new.ops[i] = swap()
                yield "comparison", new
    elif isinstance(node, ast.BinOp):
        for swap in BINOP_SWAPS.get(type(node.op), ()):
            yield "arithmetic", ast.BinOp(copy.deepcopy(node.left), swap(), copy.deepcopy(node.right))
        yield "operand", copy.deepcopy(node.left)
        yield "operand", copy.deepcopy(node.right)
    elif isinstance(node, ast.AugAssign):
        for swap in BINOP_SWAPS.get(type(node.op), ()):
            yield "arithmetic", ast.AugAssign(copy.deepcopy(node.target), swap(), copy.deepcopy(node.value))
    elif isinstance(node, ast.BoolOp):
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield "boolean", ast.BoolOp(other, copy.deepcopy(node.values))
        for i in range(len(node.values)):
            rest = [copy.deepcopy(v) for j, v in enumerate(node.values) if j != i]
            yield "operand", rest[0] if len(rest) == 1 else ast.BoolOp(copy.deepcopy(node.op), rest)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
        yield "unary", copy.deepcopy(node.operand)
    elif isinstance(node, (ast.If, ast.While, ast.IfExp)):
        new = copy.deepcopy(node)
        new.test = _negated(new.test)
        yield "condition", new
    elif isinstance(node, ast.comprehension):
        for i in range(len(node.ifs)):
            new = copy.deepcopy(node)
            new.ifs[i] = _negated(new.ifs[i])
            yield "condition", new


def _negated(test: ast.expr) -> ast.expr:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return test.operand
    return ast.UnaryOp(ast.Not(), test)


def _value_mutations(node: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool):
            yield "constant", ast.Constant(not value)
        elif isinstance(value, (int, float)):
            yield "constant", ast.Constant(value + 1)
            yield "constant", ast.Constant(value - 1)
        elif isinstance(value, str):
            yield "constant", ast.Constant(f"XX{value}XX" if value else "XX")
    elif isinstance(node, ast.Return) and node.value is not None and not (
            isinstance(node.value, ast.Constant) and node.value.value is None):
        yield "return value", ast.Return(ast.Constant(None))
    elif isinstance(node, ast.Call):
        for i, keyword in enumerate(node.keywords):
            if keyword.arg is not None:
                new = copy.deepcopy(node)
                del new.keywords[i]
                yield "keyword argument", new
        if isinstance(node.func, ast.Name) and node.func.id in BUILTIN_SWAPS:
            new = copy.deepcopy(node)
            new.func.id = BUILTIN_SWAPS[node.func.id]
            yield "builtin", new
    elif isinstance(node, ast.Break):
        yield "loop", ast.Continue()
    elif isinstance(node, ast.Continue):
        yield "loop", ast.Break()


def _statement_mutations(node: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    if isinstance(node, ast.stmt) and not isinstance(node, (ast.Pass, ast.FunctionDef, ast.AsyncFunctionDef,
                                                            ast.ClassDef)):
        yield "removed statement", ast.Pass()


def _replace(tree: ast.AST, position: int, replacement: ast.AST) -> None:
    """Put *replacement* where the *position*-th node of ``ast.walk(tree)`` is."""
    target = next(node for i, node in enumerate(ast.walk(tree)) if i == position)
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if value is target:
                setattr(parent, name, replacement)
                return
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is target:
                        value[i] = replacement
                        return
    raise LookupError("the node to mutate has no parent")


def _changed_line(before: str, after: str) -> tuple[str, str]:
    old, new = before.splitlines(), after.splitlines()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag != "equal":
            was = old[i1].strip() + (" ..." if i2 - i1 > 1 else "") if i2 > i1 else "(nothing)"
            now = new[j1].strip() + (" ..." if j2 - j1 > 1 else "") if j2 > j1 else "(removed)"
            return was, now
    return "", ""


def _compiles(source: str) -> bool:
    try:
        compile(source, "<mutant>", "exec", flags=COMPILE_FLAGS, dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True
