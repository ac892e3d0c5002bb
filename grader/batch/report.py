"""``report.html``: what an instructor looks at after a batch, with the plots embedded.

Score distribution, per-part pass rates, the most common failure messages (numbers
masked, so the same mistake on different random inputs counts once), the slowest
submissions and every one that did not run to the end.
"""

from __future__ import annotations

import base64
import collections
import csv
import html
import io
import re
from pathlib import Path

from grader.batch.feedback import feedback_path
from grader.batch.gradebook import Row
from grader.engine import result as R

_NUMBER = re.compile(r"-?\b\d+(?:\.\d+)?(?:e-?\d+)?\b|\b[0-9a-f]{8,}\b")
TOP = 10


def _png(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<img alt='plot' src='data:image/png;base64,{data}'>"


def score_plot(rows: list[Row]) -> str:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 3))
    for exercise in sorted({row.exercise for row in rows}):
        shares = [100 * row.score / row.max_score for row in rows if row.exercise == exercise and row.max_score]
        axes.hist(shares, bins=[0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100.001], alpha=0.7, label=exercise)
    axes.set(xlabel="score (% of the points)", ylabel="submissions", title="Score distribution")
    axes.legend()
    return _png(figure)


def pass_rates(rows: list[Row]) -> dict[str, float]:
    """Share of submissions passing each part, as 'exercise: part'."""
    counts: dict[str, list[int]] = {}
    for row in rows:
        for part in row.result["parts"]:
            tally = counts.setdefault(f"{row.exercise}: {part['id']}", [0, 0])
            tally[0] += part["passed"]
            tally[1] += 1
    return {name: passed / total for name, (passed, total) in counts.items()}


def pass_rate_plot(rates: dict[str, float]) -> str:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 0.4 * len(rates) + 1))
    names = list(rates)[::-1]
    axes.barh(names, [100 * rates[name] for name in names], color="#2da44e")
    axes.set(xlim=(0, 100), xlabel="% of submissions passing", title="Pass rate per part")
    return _png(figure)


def common_failures(rows: list[Row]) -> list[tuple[str, int, str]]:
    """(part, how many submissions, an example message) for the most frequent failure messages."""
    counter: collections.Counter[tuple[str, str]] = collections.Counter()
    example: dict[tuple[str, str], str] = {}
    for row in rows:
        for part in row.result["parts"]:
            for message in dict.fromkeys(_NUMBER.sub("#", m) for m in part["feedback"]):
                counter[(part["id"], message)] += 1
            for message in part["feedback"]:
                example.setdefault((part["id"], _NUMBER.sub("#", message)), message)
    return [(key[0], count, example[key]) for key, count in counter.most_common(TOP)]


def _table(head: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "<p>None.</p>"
    header = "".join(f"<th>{cell}</th>" for cell in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{header}</tr>{body}</table>"


def _link(out: Path, row: Row) -> str:
    target = feedback_path(out, row).relative_to(out).as_posix()
    return f"<a href='{html.escape(target)}'>{html.escape(row.learner)}</a>"


def _unplaced(out: Path) -> list[list[str]]:
    path = out / "unplaced.csv"
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return [[html.escape(item["file"]), html.escape(item["reason"])] for item in csv.DictReader(handle)]


def render(rows: list[Row], out: Path) -> str:
    statuses = collections.Counter(row.status for row in rows)
    rates = pass_rates(rows)
    slow = sorted(rows, key=lambda row: row.seconds, reverse=True)[:TOP]
    stopped = [row for row in rows if row.status not in R.RAN_TO_THE_END]
    plots = (score_plot(rows) + pass_rate_plot(rates)) if rows else "<p>No submissions graded yet.</p>"
    sections = [
        ("Submissions", "<p>" + ", ".join(f"{count} {html.escape(status)}" for status, count in
                                          sorted(statuses.items())) + f" ({len(rows)} in all)</p>"),
        ("Scores and pass rates", plots),
        ("Most common failures", _table(["part", "submissions", "example message"],
                                        [[html.escape(p), str(n), html.escape(m)]
                                         for p, n, m in common_failures(rows)])),
        ("Slowest submissions", _table(["learner", "exercise", "seconds", "status"],
                                       [[_link(out, r), html.escape(r.exercise), f"{r.seconds:.2f}",
                                         html.escape(r.status)] for r in slow])),
        ("Did not run to the end", _table(["learner", "exercise", "status", "why"],
                                          [[_link(out, r), html.escape(r.exercise), html.escape(r.status),
                                            html.escape("; ".join(r.result["problems"]
                                                                  + [e.get("message", "") for e in
                                                                     r.result["cell_errors"]])[:300])]
                                           for r in stopped])),
        ("Files that could not be placed", _table(["file", "reason"], _unplaced(out))),
    ]
    body = "".join(f"<h2>{title}</h2>{content}" for title, content in sections)
    style = ("body{font:15px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left}"
             "img{max-width:100%;display:block;margin:1em 0}")
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Grading report</title>"
            f"<style>{style}</style></head><body><h1>Grading report</h1>{body}</body></html>")


def write(rows: list[Row], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    path = out / "report.html"
    path.write_text(render(rows, out), encoding="utf-8")
    return path
