"""SciFact (BEIR format) from the repository's ``datasets/scifact/``: corpus, queries, qrels.

Read with the standard library only, and never from outside the repository, so tests and
exercises run offline and the same everywhere. See ``datasets/scifact/SOURCE.md`` for
origin and licence.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Literal

from grader.engine.course import course_root

__all__ = ["DATA_DIR", "doc_text", "load_corpus", "load_qrels", "load_queries"]

DATA_DIR = course_root() / "datasets" / "scifact"

Split = Literal["train", "test"]


def _path(*parts: str) -> Path:
    """Path of a data file, with an error that says where it was looked for."""
    path = DATA_DIR.joinpath(*parts)
    if not path.is_file():
        raise FileNotFoundError(
            f"SciFact file not found: {path} (the kit expects the data in datasets/scifact/ "
            "of a checkout or of the installed package; see datasets/scifact/SOURCE.md)"
        )
    return path


def load_corpus() -> dict[str, dict[str, str]]:
    """Map doc id to ``{"title", "text"}`` for all 5,183 abstracts, in file order."""
    corpus: dict[str, dict[str, str]] = {}
    with gzip.open(_path("corpus.jsonl.gz"), "rt", encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            corpus[doc["_id"]] = {"title": doc["title"], "text": doc["text"]}
    return corpus


def doc_text(doc: dict[str, str]) -> str:
    """The text to index for a document: title, a space, then the abstract (as BEIR does)."""
    return f"{doc['title']} {doc['text']}".strip()


def load_qrels(split: Split = "test") -> dict[str, set[str]]:
    """Map query id to the set of relevant doc ids (every SciFact judgement is relevance 1)."""
    qrels: dict[str, set[str]] = {}
    with _path("qrels", f"{split}.tsv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if int(row["score"]) > 0:
                qrels.setdefault(row["query-id"], set()).add(row["corpus-id"])
    return qrels


def load_queries(split: Split | None = "test") -> dict[str, str]:
    """Map query id to claim text; only the queries judged in ``split`` (all 1,109 if None)."""
    keep = None if split is None else load_qrels(split)
    queries: dict[str, str] = {}
    with _path("queries.jsonl").open(encoding="utf-8") as f:
        for line in f:
            query = json.loads(line)
            if keep is None or query["_id"] in keep:
                queries[query["_id"]] = query["text"]
    return queries
