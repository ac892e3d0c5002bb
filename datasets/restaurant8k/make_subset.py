"""Rebuild bookings.jsonl from Restaurant-8k's test.json (see SOURCE.md).

    python datasets/restaurant8k/make_subset.py PATH/TO/restaurant8k/test.json

Keeps the utterances whose every gold span the exercise's normalisation rules recognise (the
solution notebook's part-5 cell, so the rules and the gold values cannot drift apart), drops
texts that occur with two different gold bookings ("2" after "how many?" and after "what
time?"), keeps one copy of each text, and samples 300 with a fixed seed: 240 with at least
one label, 60 with none.
"""

import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOLUTION = HERE.parents[1] / "solutions" / "02_structured_output.ipynb"
REFERENCE_DATE = "2018-04-11"
CANONICAL = {"date": r"\d{4}-\d\d-\d\d", "time": r"\d\d:\d\d"}


def normalisers() -> dict:
    cell = next(c for c in json.loads(SOLUTION.read_text())["cells"]
                if c["metadata"]["nbgrader"].get("grade_id") == "so-normalise-code")
    namespace: dict = {}
    exec("".join(cell["source"]), namespace)
    return namespace


def record(index: int, item: dict, rules: dict) -> dict | None:
    text = item["userInput"]["text"]
    spans, gold = {}, dict.fromkeys(rules["FIELDS"])
    for label in item.get("labels", []):
        slot, span = label["slot"], label["valueSpan"]
        value = text[span.get("startIndex", 0):span["endIndex"]].strip()
        if slot in spans:
            return None
        spans[slot] = value
        if slot == "date":
            gold[slot] = rules["normalise_date"](value, REFERENCE_DATE)
        elif slot == "time":
            gold[slot] = rules["normalise_time"](value)
        elif slot == "people":
            gold[slot] = rules["normalise_people"](value)
        else:
            gold[slot] = rules["normalise_name"](value)
        ok = (re.fullmatch(CANONICAL[slot], gold[slot]) if slot in CANONICAL
              else isinstance(gold[slot], int) and 1 <= gold[slot] <= 50 if slot == "people"
              else gold[slot] and len(gold[slot]) <= 40)
        if not ok:
            return None
    requested = list(dict.fromkeys(item.get("context", {}).get("requestedSlots", [])))
    return {"id": index, "text": text, "requested": requested, "labels": item.get("labels", []),
            "spans": spans, "gold": gold}


def main(source: str) -> None:
    rules = normalisers()
    items = json.loads(Path(source).read_text())
    kept = [r for r in (record(i, item, rules) for i, item in enumerate(items)) if r is not None]
    golds: dict = {}
    for r in kept:
        golds.setdefault(r["text"].strip().casefold(), set()).add(json.dumps(r["gold"], sort_keys=True))
    kept = [r for r in kept if len(golds[r["text"].strip().casefold()]) == 1]  # one reading per text
    kept = list({r["text"].strip().casefold(): r for r in reversed(kept)}.values())[::-1]
    rng = random.Random(2020)
    labelled = rng.sample([r for r in kept if r["spans"]], 240)
    empty = rng.sample([r for r in kept if not r["spans"]], 60)
    chosen = sorted(labelled + empty, key=lambda r: r["id"])
    with (HERE / "bookings.jsonl").open("w", encoding="utf-8") as out:
        for r in chosen:
            out.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"kept {len(kept)} of {len(items)}; wrote {len(chosen)}")


if __name__ == "__main__":
    main(sys.argv[1])
