"""How a mutation run reads: a table per part, then every survivor as a one-line diff."""

from __future__ import annotations

from typing import Any

from grader.mutants.run import Report


def render_report(report: Report) -> str:
    plan = report.plan
    generated = plan.generated
    lines = [f"{plan.path} ({plan.exercise}): {len(generated.mutants)} mutants"
             + (f", {len(plan.sampled)} sampled" if len(plan.sampled) < len(generated.mutants) else "")
             + f", {len(generated.not_compiling)} skipped (do not compile)"
             + f"; {len(plan.sampled) - report.from_cache} graded, {report.from_cache} from the cache"]
    lines += [f"  answer cell {cell} is not plain Python (magics?): not mutated" for cell in generated.unparsable_cells]
    lines.append("")
    lines.append(f"  {'part':<24} {'mutants':>7} {'caught':>7} {'equiv.':>7} {'score':>6}")
    for part, (count, caught, equal) in report.by_part().items():
        score = f"{caught / count:.2f}" if count else "-"
        lines.append(f"  {part:<24} {count:>7} {caught:>7} {equal:>7} {score:>6}")
    counted = report.counted
    lines.append(f"  {'overall':<24} {len(counted):>7} {len(counted) - len(report.survivors):>7} "
                 f"{len(report.equivalent):>7} {report.score:>6.2f}")
    if report.survivors:
        lines += ["", "Survivors (full marks with this bug):"]
        lines += [f"  [{m.part}] {m.diff}" for m in report.survivors]
    if report.equivalent:
        lines += ["", "Accepted as equivalent:"]
        lines += [f"  [{mutant.part}] {mutant.diff}  # {reason}" for mutant, reason in report.equivalent]
    for stale in report.unused_acceptances:
        lines.append(f"  note: the accepted mutant {stale.cell}: {stale.was} -> {stale.now} is not made any "
                     "more, or is caught now: delete it from the equivalents file")
    return "\n".join(lines)


def report_dict(report: Report) -> dict[str, Any]:
    def mutant(m: Any) -> dict[str, Any]:
        return {"part": m.part, "cell": m.cell, "line": m.line, "operator": m.operator, "was": m.was, "now": m.now}

    return {
        "notebook": str(report.plan.path), "exercise": report.plan.exercise, "score": round(report.score, 4),
        "generated": len(report.plan.generated.mutants), "graded": len(report.verdicts),
        "not_compiling": len(report.plan.generated.not_compiling), "from_cache": report.from_cache,
        "parts": {part: {"mutants": n, "caught": c, "equivalent": e} for part, (n, c, e) in report.by_part().items()},
        "survivors": [mutant(m) for m in report.survivors],
        "equivalent": [{**mutant(m), "reason": reason} for m, reason in report.equivalent],
    }
