"""The stub's local embedder: deterministic, stateless, unit-length rows, and useful neighbours.

Also the ranking metrics and the SciFact loader it is measured with.
"""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from grader.datasets import scifact
from grader.metrics import mean_metric, mrr, ndcg_at_k, recall_at_k
from grader.stub.embedder import MAX_DIMENSIONS, embed

TEXTS = [
    "Aspirin lowers the risk of heart attack in older adults.",
    "Mutations in BRCA1 increase breast cancer risk.",
    "The stock market fell sharply on Monday.",
    "",
]


def _cos(a: str, b: str) -> float:
    va, vb = embed([a, b])
    return float(va @ vb)


# --- determinism and statelessness -------------------------------------------------------


def test_same_text_same_vector_on_every_call() -> None:
    assert np.array_equal(embed(TEXTS), embed(TEXTS))


def test_a_row_does_not_depend_on_the_rest_of_the_batch() -> None:
    batch = embed(["unrelated filler about galaxies", *TEXTS, "more filler: protein folding kinetics"])
    for i, text in enumerate(TEXTS):
        assert np.array_equal(embed([text])[0], batch[i + 1])
    assert np.array_equal(embed(TEXTS[::-1]), embed(TEXTS)[::-1])


def test_same_vector_in_another_process_with_another_hash_seed() -> None:
    """Python's str hash is salted per process; the vectors must not be."""
    code = (
        "import hashlib, sys; from grader.stub.embedder import embed; "
        f"print(hashlib.sha256(embed({TEXTS!r}, 256).tobytes()).hexdigest())"
    )
    here = hashlib.sha256(embed(TEXTS, 256).tobytes()).hexdigest()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == here


# --- shape, normalisation, dimensions ------------------------------------------------------


@pytest.mark.parametrize("dims", [1, 2, 3, 64, 256, 1000, 1536, MAX_DIMENSIONS])
def test_rows_are_float32_and_unit_length(dims: int) -> None:
    vectors = embed(TEXTS, dims)
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(TEXTS), dims)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


def test_default_is_1536_dimensions_and_numpy_ints_are_accepted() -> None:
    assert embed(["hello"]).shape == (1, 1536)
    assert embed(["hello"], np.int64(8)).shape == (1, 8)


@pytest.mark.parametrize("dims", [0, -1, MAX_DIMENSIONS + 1])
def test_dimensions_out_of_range_are_refused(dims: int) -> None:
    with pytest.raises(ValueError, match="between 1 and 3072"):
        embed(["hello"], dims)


@pytest.mark.parametrize("dims", [1.5, True, "8", None])
def test_dimensions_must_be_an_int(dims: object) -> None:
    with pytest.raises(TypeError):
        embed(["hello"], dims)  # type: ignore[arg-type]


def test_a_bare_string_is_refused_rather_than_embedded_letter_by_letter() -> None:
    with pytest.raises(TypeError, match="sequence of strings"):
        embed("hello")


def test_no_texts_gives_an_empty_array() -> None:
    assert embed([]).shape == (0, 1536)
    assert embed((), 8).dtype == np.float32


def test_texts_without_content_words_still_get_deterministic_unit_vectors() -> None:
    texts = ["", " ", "!!!", "the of and", "the of and"]
    vectors = embed(texts)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    assert np.array_equal(vectors[3], vectors[4])
    assert np.array_equal(embed([""]), embed([""]))


# --- unicode ------------------------------------------------------------------------------


def test_unicode_is_normalised_and_case_folded() -> None:
    assert _cos("Ｃｅｌｌｓ DIVIDE", "cells divide") == pytest.approx(1.0, abs=1e-6)
    assert _cos("café", "cafe\u0301") == pytest.approx(1.0, abs=1e-6)
    assert _cos("STRASSE", "straße") == pytest.approx(1.0, abs=1e-6)


def test_non_latin_text_and_odd_code_points_embed() -> None:
    texts = ["細胞の分化", "клетки делятся", "🧬 DNA 🧬", "lone \ud800 surrogate", "x" * 20_000]
    vectors = embed(texts)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    # No spaces, so each run is one word, but shared character n-grams still bring them together.
    assert _cos("細胞の分化と増殖", "細胞の分化") > _cos("細胞の分化と増殖", "клетки делятся") + 0.1


# --- meaningful neighbours ----------------------------------------------------------------


def test_related_texts_are_closer_than_unrelated_ones() -> None:
    query = "Does aspirin reduce heart attacks?"
    assert _cos(query, TEXTS[0]) > _cos(query, TEXTS[1]) > _cos(query, TEXTS[2]) - 0.05
    assert _cos(query, TEXTS[0]) > 0.3


def test_word_forms_meet() -> None:
    assert _cos("mutations in tumours", "tumour mutation") > 0.8
    assert _cos("phosphorylation", "phosphorylated") > 0.3


def test_rare_words_weigh_more_than_common_ones() -> None:
    """Sharing 'mitochondria' should count for more than sharing 'people'."""
    base = "people mitochondria"
    assert _cos(base, "mitochondria") > _cos(base, "people")


# --- metrics ------------------------------------------------------------------------------


def test_ndcg_known_values() -> None:
    ranked = ["a", "b", "c", "d"]
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(ranked, {"b", "d"}, k=10) == pytest.approx(expected)
    assert ndcg_at_k(ranked, {"a"}, k=10) == 1.0
    assert ndcg_at_k(ranked, {"b"}, k=1) == 0.0
    assert ndcg_at_k(ranked, {"z"}, k=10) == 0.0
    assert ndcg_at_k(ranked, set(), k=10) == 0.0
    # Two relevant, one found at rank 1: the ideal ranking has both on top.
    assert ndcg_at_k(["a", "x"], {"a", "y"}, k=2) == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_recall_known_values() -> None:
    assert recall_at_k(["a", "b", "c"], {"c", "z"}, k=2) == 0.0
    assert recall_at_k(["a", "b", "c"], {"c", "z"}, k=3) == 0.5
    assert recall_at_k(["a", "b"], {"a", "b"}, k=100) == 1.0
    assert recall_at_k(["a"], set(), k=10) == 0.0


def test_mrr_known_values() -> None:
    assert mrr(["a", "b", "c"], {"c"}) == pytest.approx(1 / 3)
    assert mrr(["a", "b", "c"], {"b", "c"}) == 0.5
    assert mrr(["a", "b", "c"], {"c"}, k=2) == 0.0
    assert mrr([], {"a"}) == 0.0


def test_mean_metric_averages_over_judged_queries_and_counts_missing_runs_as_zero() -> None:
    runs = {"q1": ["a", "b"], "q2": ["b", "a"], "unjudged": ["a"]}
    qrels = {"q1": {"a"}, "q2": {"a"}, "q3": {"a"}}
    assert mean_metric(mrr, runs, qrels) == pytest.approx((1 + 0.5 + 0) / 3)
    assert mean_metric(recall_at_k, runs, qrels, k=1) == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        mean_metric(mrr, runs, {})


# --- SciFact --------------------------------------------------------------------------------


def test_scifact_loads_with_the_published_counts() -> None:
    assert len(scifact.load_corpus()) == 5183
    assert len(scifact.load_queries("test")) == len(scifact.load_qrels("test")) == 300
    assert len(scifact.load_queries("train")) == len(scifact.load_qrels("train")) == 809
    assert sum(len(r) for r in scifact.load_qrels("test").values()) == 339
    assert len(scifact.load_queries(None)) == 1109


def test_a_missing_scifact_file_names_the_path(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(scifact, "DATA_DIR", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        scifact.load_corpus()


def test_scifact_test_ndcg_at_10_with_exact_cosine_search() -> None:
    """The bar from the issue: nDCG@10 >= 0.55 on the 300 test queries (BM25 is 0.66)."""
    corpus = scifact.load_corpus()
    doc_ids = list(corpus)
    docs = embed([scifact.doc_text(corpus[d]) for d in doc_ids])
    queries = scifact.load_queries("test")
    scores = embed(list(queries.values())) @ docs.T
    top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    runs = {q: [doc_ids[j] for j in row] for q, row in zip(queries, top, strict=True)}
    ndcg = mean_metric(ndcg_at_k, runs, scifact.load_qrels("test"), k=10)
    assert ndcg >= 0.55, f"nDCG@10 = {ndcg:.4f}"
