"""Mutants an exercise's author accepted as equivalent: same behaviour, so no check can catch them.

They live in ``docs/exercises/<exercise>.equivalent-mutants.toml``, beside the instructor
notes, each matched by its cell and its one-line change and carrying a reason::

    [[equivalent]]
    cell = "api-cache-code"
    was = "canonical = json.dumps(request, sort_keys=True, ensure_ascii=False)"
    now = "canonical = json.dumps(request, sort_keys=True)"
    reason = "ensure_ascii only changes how non-ASCII is spelled inside the hashed string"

``was`` and ``now`` are the two sides of the line ``grader mutants`` prints for a survivor.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

FIELDS = ("cell", "was", "now", "reason")


class BadEquivalents(ValueError):
    """The accepted-mutants file is malformed; the message names the file, the entry and the fix."""


@dataclass(frozen=True)
class Equivalent:
    cell: str
    was: str
    now: str
    reason: str

    def matches(self, cell: str, was: str, now: str) -> bool:
        return (self.cell, self.was, self.now) == (cell, was, now)


def equivalents_path(root: Path, exercise: str) -> Path:
    return root / "docs" / "exercises" / f"{exercise}.equivalent-mutants.toml"


def load_equivalents(path: Path) -> list[Equivalent]:
    """The accepted mutants in *path*; none if the file does not exist."""
    if not path.exists():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise BadEquivalents(f"{path}: not valid TOML ({error})") from None
    entries = data.get("equivalent", [])
    if not isinstance(entries, list):
        raise BadEquivalents(f"{path}: 'equivalent' must be an array of tables ([[equivalent]] entries)")
    accepted = []
    for number, entry in enumerate(entries, start=1):
        missing = [name for name in FIELDS if not isinstance(entry.get(name), str) or not entry[name].strip()]
        if missing:
            raise BadEquivalents(f"{path}: equivalent mutant {number} has no {', '.join(missing)}; every entry "
                                 "needs cell, was, now (as `grader mutants` prints them) and a one-line reason")
        accepted.append(Equivalent(*(entry[name].strip() for name in FIELDS)))
    return accepted
