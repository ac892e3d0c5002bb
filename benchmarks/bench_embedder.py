"""Benchmark the stub's embedder on SciFact: speed, and retrieval quality next to two baselines.

Prints the time to embed the 5,183 abstracts (median of 3 runs) and, on the test split (and
train, for reference), nDCG@10, Recall@100 and MRR@10 of exact cosine search over

* the stub's embedder (``grader.stub.embedder``),
* a plain feature-hashing embedder at the same size (lower-cased words minus a short stop
  list, 1 + log tf, one signed bucket per word, L2 norm), and
* BM25 (k1=0.9, b=0.4, as Anserini's BEIR runs), an exact sparse reference.

Run: ``python benchmarks/bench_embedder.py [--dimensions 1536]``.
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from grader.datasets import scifact
from grader.metrics import mean_metric, mrr, ndcg_at_k, recall_at_k
from grader.stub.embedder import embed

_WORD = re.compile(r"\w+")
_STOP = frozenset(  # for BM25 and the hashing baseline
    "a an and are as at be by for from has he in is it its of on or that the to was were will with".split()  # noqa: SIM905
)


def hashing_embed(texts: Sequence[str], dimensions: int) -> np.ndarray:
    """Baseline: each word adds ±(1 + log tf) to bucket crc32(word) % dimensions, sign from bit 31."""
    vectors = np.zeros((len(texts), dimensions))
    for row, text in enumerate(texts):
        for word, count in Counter(BM25.tokens(text)).items():
            h = zlib.crc32(word.encode())
            vectors[row, h % dimensions] += -(1 + math.log(count)) if h >> 31 else 1 + math.log(count)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


class BM25:
    """Okapi BM25 with Lucene's idf, over lower-cased words minus a short stop list (no stemming)."""

    def __init__(self, docs: Sequence[str], k1: float = 0.9, b: float = 0.4) -> None:
        counts = [Counter(self.tokens(d)) for d in docs]
        lengths = np.array([sum(c.values()) for c in counts], dtype=float)
        norm = k1 * (1 - b + b * lengths / lengths.mean())
        postings: dict[str, tuple[list[int], list[float]]] = {}
        for i, c in enumerate(counts):
            for term, tf in c.items():
                ids, tfs = postings.setdefault(term, ([], []))
                ids.append(i)
                tfs.append(tf)
        self.n_docs = len(docs)
        self.postings = {}
        for term, (ids, tfs) in postings.items():
            idx, tf = np.array(ids), np.array(tfs, dtype=float)
            idf = math.log(1 + (len(docs) - len(ids) + 0.5) / (len(ids) + 0.5))
            self.postings[term] = (idx, idf * tf * (k1 + 1) / (tf + norm[idx]))

    @staticmethod
    def tokens(text: str) -> list[str]:
        """Lower-cased words minus the stop list; the baseline embedder uses them too."""
        return [w for w in _WORD.findall(text.lower()) if w not in _STOP]

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        """A (queries, docs) score matrix, accumulated posting list by posting list."""
        out = np.zeros((len(queries), self.n_docs))
        for row, query in enumerate(queries):
            for term, qtf in Counter(self.tokens(query)).items():
                if term in self.postings:
                    idx, contribution = self.postings[term]
                    out[row, idx] += qtf * contribution
        return out


def evaluate(scores: np.ndarray, query_ids: list[str], doc_ids: list[str], qrels: dict) -> dict[str, float]:
    """nDCG@10, Recall@100 and MRR@10 of rankings by descending score (ties: corpus order)."""
    top = np.argsort(-scores, axis=1, kind="stable")[:, :100]
    runs = {q: [doc_ids[j] for j in row] for q, row in zip(query_ids, top, strict=True)}
    return {
        "nDCG@10": mean_metric(ndcg_at_k, runs, qrels, k=10),
        "R@100": mean_metric(recall_at_k, runs, qrels, k=100),
        "MRR@10": mean_metric(mrr, runs, qrels, k=10),
    }


def dense_scorer(embedder: Callable[[Sequence[str]], np.ndarray], docs: list[str]):
    """Exact cosine search: the rows are unit length, so a matrix product is the cosine."""
    doc_vectors = embedder(docs)
    return lambda queries: embedder(queries) @ doc_vectors.T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dimensions", type=int, default=1536)
    dims = parser.parse_args().dimensions

    corpus = scifact.load_corpus()
    doc_ids = list(corpus)
    docs = [scifact.doc_text(corpus[d]) for d in doc_ids]

    times = []
    for _ in range(3):
        start = time.perf_counter()
        embed(docs, dims)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"SciFact (BEIR): {len(docs):,} abstracts, {dims} dimensions")
    print(f"embed corpus: {median:.2f} s (median of 3; runs {', '.join(f'{t:.2f}' for t in times)}),")
    print(f"              {len(docs) / median:,.0f} docs/s")

    systems = {
        f"stub embedder ({dims} d)": dense_scorer(lambda t: embed(t, dims), docs),
        f"feature hashing ({dims} d)": dense_scorer(lambda t: hashing_embed(t, dims), docs),
        "BM25 (k1=0.9, b=0.4)": BM25(docs).scores,
    }
    results: dict[str, dict[str, dict[str, float]]] = {}
    for split in ("test", "train"):
        queries, qrels = scifact.load_queries(split), scifact.load_qrels(split)
        for name, score in systems.items():
            metrics = evaluate(score(list(queries.values())), list(queries), doc_ids, qrels)
            results.setdefault(name, {})[split] = metrics

    print(f"\n{'system':<28}{'nDCG@10':>9}{'R@100':>8}{'MRR@10':>8}   | train nDCG@10")
    for name, by_split in results.items():
        test = by_split["test"]
        row = "".join(f"{test[m]:>{w}.4f}" for m, w in (("nDCG@10", 9), ("R@100", 8), ("MRR@10", 8)))
        print(f"{name:<28}{row}   | {by_split['train']['nDCG@10']:.4f}")
    mine, bm25 = (results[n]["test"]["nDCG@10"] for n in (next(iter(systems)), "BM25 (k1=0.9, b=0.4)"))
    print(f"\nstub embedder / BM25, test nDCG@10: {mine / bm25:.3f}  (test = the 300 BEIR test queries)")


if __name__ == "__main__":
    main()
