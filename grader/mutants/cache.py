"""Verdicts on mutants, stored by content: a re-run after fixing a check grades only what changed.

The key covers everything a verdict depends on that an author edits: the mutant notebook,
the exercise's checks module (and the helpers every checks module imports), the released
notebook that supplies points and locked cells, and the grading limits. Change any of
them and the old verdicts are simply never looked up again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from pathlib import Path
from typing import Any

FORMAT = 1  # bump when the stored verdict changes shape


def checks_source(exercise: str) -> str:
    """The source of ``grader.checks.<exercise>`` and of ``grader.checks`` itself."""
    texts = []
    for name in ("grader.checks", f"grader.checks.{exercise}"):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise LookupError(f"no checks module {name}")
        texts.append(Path(spec.origin).read_text(encoding="utf-8"))
    return "\0".join(texts)


def verdict_key(notebook_text: str, context: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps({"format": FORMAT, **context}, sort_keys=True).encode())
    digest.update(b"\0" + notebook_text.encode())
    return digest.hexdigest()


class VerdictCache:
    """One small JSON file per key under *root*; writes are atomic, so parallel runs are safe."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, key: str, verdict: dict) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(verdict, file)
        os.replace(temporary, path)
