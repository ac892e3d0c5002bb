"""Ranking metrics over ranked id lists and sets of relevant ids (binary relevance).

Pure functions with no numpy, so the retrieval exercise and the benchmarks can share one
definition of each metric. Per-query functions return a float; average them yourself
(or use :func:`mean_metric`) over the queries that have judgements.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence

__all__ = ["mean_metric", "mrr", "ndcg_at_k", "recall_at_k"]


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int = 10) -> float:
    """Binary nDCG@k: DCG of the top k over the DCG of an ideal ranking (0.0 if nothing is relevant)."""
    if k <= 0 or not relevant:
        return 0.0
    dcg = sum(1.0 / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]) if doc in relevant)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(k, len(relevant))))
    return dcg / ideal


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int = 100) -> float:
    """Share of the relevant ids found in the top k (0.0 if nothing is relevant)."""
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


def mrr(ranked: Sequence[str], relevant: Collection[str], k: int | None = None) -> float:
    """Reciprocal rank of the first relevant id, looking at the top k only when k is given."""
    for rank, doc in enumerate(ranked if k is None else ranked[:k]):
        if doc in relevant:
            return 1.0 / (rank + 1)
    return 0.0


def mean_metric(
    metric: Callable[..., float],
    runs: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Collection[str]],
    **kwargs: int,
) -> float:
    """Average ``metric`` over every judged query; a judged query missing from ``runs`` scores 0."""
    if not qrels:
        raise ValueError("qrels is empty: nothing to average over")
    return sum(metric(runs.get(q, ()), rel, **kwargs) for q, rel in qrels.items()) / len(qrels)
