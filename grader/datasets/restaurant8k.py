"""Restaurant-8k booking utterances from the repository's ``datasets/restaurant8k/``.

300 test utterances with their gold spans and the gold booking normalised against
:data:`REFERENCE_DATE` (see ``datasets/restaurant8k/SOURCE.md`` for origin, licence and how
the subset was made). Read with the standard library only, never from outside the repository.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

__all__ = ["DATA_DIR", "FIELDS", "REFERENCE_DATE", "load_bookings"]

DATA_DIR = Path(__file__).resolve().parents[2] / "datasets" / "restaurant8k"
REFERENCE_DATE = "2018-04-11"
"""The day the utterances are taken to be said on: "tomorrow" is 2018-04-12."""
FIELDS = ("date", "time", "people", "first_name", "last_name")


def load_bookings() -> list[dict]:
    """One dict per utterance: ``id`` (index in the original test.json), ``text``, ``requested``
    (the slots the system had just asked for), ``labels`` (original), ``spans`` (slot -> the gold
    text) and ``gold`` (the five fields, normalised; None where the guest gave no value).
    A fresh copy each call, so callers may change it."""
    return json.loads(json.dumps(_read()))


@cache
def _read() -> list[dict]:
    path = DATA_DIR / "bookings.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"Restaurant-8k subset not found: {path} (the kit expects it in "
                                "datasets/restaurant8k/ of a source checkout; see SOURCE.md there)")
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]
