"""The gradebook: one SQLite file that survives anything, and a lock so only one grader writes.

Each result is committed in its own transaction the moment it arrives, keyed by learner,
exercise and the submission's content hash. So a grader killed at any point (even
``kill -9``) loses at most the submissions in flight, a re-run grades only what is
missing, and a resubmission adds a row while the earlier one stays as history.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY,
    learner TEXT NOT NULL,
    exercise TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    seconds REAL NOT NULL,
    graded_at REAL NOT NULL,
    result TEXT NOT NULL,
    UNIQUE (learner, exercise, content_hash)
);
CREATE TABLE IF NOT EXISTS current (
    learner TEXT NOT NULL,
    exercise TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    PRIMARY KEY (learner, exercise)
);
"""

# The current result of a learner's exercise is the one whose content hash matches the file
# found by the last run (so going back to an earlier version makes it current again); the
# newest row only when that file has no result (its grading failed) or was never seen.
_CURRENT = """
SELECT results.* FROM results WHERE id IN (
    SELECT COALESCE(
        (SELECT MAX(r.id) FROM results r JOIN current c
         ON c.learner = r.learner AND c.exercise = r.exercise AND c.content_hash = r.content_hash
         WHERE r.learner = g.learner AND r.exercise = g.exercise),
        MAX(g.id))
    FROM results g GROUP BY g.learner, g.exercise)
"""


def _objects_of(schema: str) -> frozenset[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(":memory:")) as db:
        db.executescript(schema)
        return frozenset(db.execute("SELECT type, name FROM sqlite_master"))


# Everything SCHEMA creates; anything else in the file was put there by someone else.
KNOWN_OBJECTS = _objects_of(SCHEMA)


class GradebookBusy(Exception):
    """Another grader holds the lock on this output folder."""


class GradebookTampered(Exception):
    """The gradebook holds objects or rows the grader did not write."""


@dataclass(frozen=True)
class Row:
    id: int
    learner: str
    exercise: str
    content_hash: str
    source: str
    status: str
    score: float
    max_score: float
    seconds: float
    graded_at: float
    result: dict[str, Any]


def _row(values: tuple) -> Row:
    return Row(*values[:-1], json.loads(values[-1]))


class Gradebook:
    def __init__(self, path: Path):
        self.path = path
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable against process death
        self.db.execute("PRAGMA trusted_schema=OFF")  # a planted view or trigger cannot call functions
        self.db.executescript(SCHEMA)
        self.verify()

    def verify(self) -> None:
        """Refuse a gradebook someone else changed: a trigger could rewrite scores as they are
        stored, and a row whose columns disagree with its stored result was edited."""
        fix = ("Move it aside (it is not deleted; its results can still be read) and run `grader grade` "
               "again to grade every submission afresh.")
        unknown = set(self.db.execute("SELECT type, name FROM sqlite_master")) - KNOWN_OBJECTS
        if unknown:
            names = ", ".join(f"{kind} {name!r}" for kind, name in sorted(unknown))
            raise GradebookTampered(f"{self.path} holds {names}, which the grader never creates: "
                                    f"it has been tampered with. {fix}")
        for row_id, status, score, max_score, text in self.db.execute(
                "SELECT id, status, score, max_score, result FROM results"):
            try:
                stored = json.loads(text)
                agrees = (stored["status"], stored["score"], stored["max_score"]) == (status, score, max_score)
            except (ValueError, TypeError, KeyError):
                agrees = False
            if not agrees:
                raise GradebookTampered(f"{self.path}: row {row_id} was changed after the grader wrote it "
                                        f"(its score or status no longer matches its result). {fix}")

    def close(self) -> None:
        self.db.close()

    def graded_keys(self) -> set[tuple[str, str, str]]:
        return set(self.db.execute("SELECT learner, exercise, content_hash FROM results"))

    def mark_current(self, keys: Iterable[tuple[str, str, str]]) -> None:
        """Record which content each (learner, exercise) has now: ``(learner, exercise, content_hash)``."""
        with self._transaction():
            self.db.executemany("INSERT OR REPLACE INTO current (learner, exercise, content_hash) VALUES (?, ?, ?)",
                                list(keys))

    def record(self, learner: str, exercise: str, content_hash: str, source: str,
               result: dict[str, Any]) -> Row | None:
        """Store one result in its own transaction and return it as stored; grading the same
        content twice keeps the first (and returns None)."""
        with self._transaction():
            stored = self.db.execute(
                "INSERT OR IGNORE INTO results (learner, exercise, content_hash, source, status, score, max_score,"
                " seconds, graded_at, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
                (learner, exercise, content_hash, source, result["status"], result["score"], result["max_score"],
                 result["seconds"], time.time(), json.dumps(result))).fetchall()
        return _row(stored[0]) if stored else None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def rows(self, *, history: bool = False) -> list[Row]:
        """The current result per learner and exercise, or with *history* every result ever stored."""
        query = "SELECT * FROM results" if history else _CURRENT
        cursor = self.db.execute(query + " ORDER BY learner, exercise, id")
        return [_row(values) for values in cursor]


@contextlib.contextmanager
def exclusive(out: Path) -> Iterator[None]:
    """Hold ``out/gradebook.lock`` for the whole run; the OS drops it if the grader dies."""
    out.mkdir(parents=True, exist_ok=True)
    lock_path = out / "gradebook.lock"
    handle = open(lock_path, "a+")  # noqa: SIM115 - held open for the lifetime of the lock
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise GradebookBusy(
                f"{out} is in use by another grader ({holder}); wait for it to finish, or pass a different --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        yield
    finally:
        handle.close()
