"""Compare a submission with its released notebook, cell by cell, by ``grade_id``.

As nbgrader does, cells are matched by their stable ids and compared by checksum, so an
edited locked cell is detected (and its released source is what runs), and a deleted
or duplicated cell is reported by name instead of breaking the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.engine.notebook import Cell, Notebook


@dataclass
class Integrity:
    restored: dict[int, str] = field(default_factory=dict)  # submission cell index -> released source
    problems: list[str] = field(default_factory=list)
    tampered: bool = False


def compare(submission: Notebook, reference: Notebook) -> Integrity:
    report = Integrity()
    for released in reference.cells:
        if not released.grade_id or not (released.is_locked or released.is_grade or released.is_solution):
            continue
        matches = submission.cells_with_grade_id(released.grade_id)
        kind = "answer cell" if released.is_solution else "locked cell"
        if not matches:
            fix = "copy it back from the released notebook" if not released.is_solution else \
                "copy the cell back from the released notebook and put your answer in it"
            report.problems.append(f"The {kind} '{released.grade_id}' was deleted; {fix}.")
            # A deleted check cell is a changed locked cell: the instructor sees it counted as one.
            report.tampered = report.tampered or not released.is_solution
            continue
        if len(matches) > 1:
            places = ", ".join(str(cell.index + 1) for cell in matches)
            report.problems.append(
                f"The {kind} '{released.grade_id}' appears {len(matches)} times (cells {places}); "
                "keep one copy: duplicated cells make it unclear which one is your answer."
            )
        for cell in matches:
            _check_cell(cell, released, report)
    return report


def _check_cell(cell: Cell, released: Cell, report: Integrity) -> None:
    if released.is_locked and not released.is_solution and cell.source != released.source:
        report.tampered = True
        report.restored[cell.index] = released.source
        report.problems.append(
            f"{cell.label} is locked but its source was changed; the released version was run instead."
        )
    elif _grading_metadata(cell) != _grading_metadata(released):
        report.tampered = True
        report.problems.append(
            f"{cell.label} has changed grading metadata (points, grade or locked flags); "
            "the released values were used."
        )


def _grading_metadata(cell: Cell) -> tuple:
    return (cell.is_grade, cell.is_solution, cell.is_locked, cell.points if cell.is_grade else None)
