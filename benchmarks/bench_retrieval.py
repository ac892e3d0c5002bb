"""The retrieval exercise's solution pipeline on SciFact: speed and quality, exact and approximate.

Runs the answer cells of ``solutions/03_retrieval_faiss.ipynb`` (chunking, batched embedding
through the stub's in-process transport, ``ChunkIndex``, ``search``, ``evaluate``, the IVF index
and ``tune_nprobe``) on the 5,183 abstracts and the 300 test claims, and prints in one run:

* indexing time: chunking, embedding, and building each index (medians of ``--repeat`` builds);
* query latency, one claim at a time (median over the claims), for brute-force numpy (the
  baseline: one matrix-vector product and a partial sort), the exact FAISS index, and the IVF
  index at the ``nprobe`` tuned on the first half of the claims;
* quality on the held-out half of the claims: recall@10 against exact search, and
  nDCG@10 / Recall@100 against SciFact's judgements (one hit per document);
* the IVF index's work as FAISS counts it (distances computed, quantizer included), as a
  share of exact search's.

Usage: python benchmarks/bench_retrieval.py [--repeat 3] [--nlist N]
FAISS runs on one thread, as it does while grading (``OMP_NUM_THREADS=1``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np

from grader.datasets import scifact
from grader.metrics import mean_metric, ndcg_at_k, recall_at_k
from grader.stub import StubLLM

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "03_retrieval_faiss.ipynb"


def solution_namespace(client_key: str, base_url: str) -> dict:
    """The names the solution's setup and answer cells define (no demonstrations, no checks)."""
    import os

    os.environ.update(OPENAI_API_KEY=client_key, OPENAI_BASE_URL=base_url, GRADER_CHILD="1")
    namespace: dict = {"__name__": "__main__"}
    for cell in json.loads(SOLUTION.read_text())["cells"]:
        grade_id = cell["metadata"]["nbgrader"]["grade_id"]
        if cell["cell_type"] == "code" and (grade_id.endswith(("-code", "-setup"))):
            exec(compile("".join(cell["source"]), f"<{grade_id}>", "exec"), namespace)
    return namespace


def seconds(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def median_of(repeat: int, run: Callable[[], object]) -> float:
    return statistics.median(seconds(run) for _ in range(repeat))


def numpy_top(matrix: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    scores = matrix @ query
    top = np.argpartition(-scores, k)[:k]
    return top[np.argsort(-scores[top])]


def doc_runs(nb: dict, index: object, chunks: dict, vectors: np.ndarray, claim_ids: list[str]) -> dict:
    search = nb["search"]
    return {claim: [hit["doc_id"] for hit in search(index, chunks, vector, k=100, one_per_doc=True)]
            for claim, vector in zip(claim_ids, vectors, strict=True)}


def numpy_doc_runs(matrix: np.ndarray, doc_of: list[str], vectors: np.ndarray, claim_ids: list[str]) -> dict:
    runs = {}
    for claim, vector in zip(claim_ids, vectors, strict=True):
        docs: list[str] = []
        for row in np.argsort(-(matrix @ vector)):
            if doc_of[row] not in docs:
                docs.append(doc_of[row])
                if len(docs) == 100:
                    break
        runs[claim] = docs
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="builds per index (median)")
    parser.add_argument("--nlist", type=int, default=0, help="IVF lists (default: sqrt of the chunks)")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)

    stub = StubLLM(api_key="sk-bench")
    with stub.serve() as server:
        nb = solution_namespace("sk-bench", server.base_url)
        client = stub.client(max_retries=0)
        corpus = {doc_id: scifact.doc_text(doc) for doc_id, doc in scifact.load_corpus().items()}
        claims, qrels = scifact.load_queries("test"), scifact.load_qrels("test")

        chunk_time = median_of(args.repeat, lambda: nb["chunk_corpus"](corpus))
        chunks_list = nb["chunk_corpus"](corpus)
        started = time.perf_counter()
        vectors = nb["embed_texts"](client, [chunk["text"] for chunk in chunks_list])
        embed_time = time.perf_counter() - started
        claim_ids = list(claims)
        claim_vectors = nb["embed_texts"](client, [claims[c] for c in claim_ids])

    def exact_index():
        store = nb["ChunkIndex"](vectors.shape[1])
        store.add(vectors, chunks_list)
        return store

    exact_build = median_of(args.repeat, exact_index)
    store = exact_index()
    nlist = args.nlist or int(np.sqrt(len(vectors)))
    ids = list(store.chunks)
    ivf_build = median_of(args.repeat, lambda: nb["build_ivf_index"](vectors, ids, nlist))
    ivf = nb["build_ivf_index"](vectors, ids, nlist)
    tune, held = claim_vectors[:150], claim_vectors[150:]
    held_ids = claim_ids[150:]
    _, exact_tune = store.index.search(tune, 10)
    nprobe = nb["tune_nprobe"](ivf, tune, exact_tune, k=10, target=0.95)

    doc_of = [chunk["doc_id"] for chunk in chunks_list]
    latency = {
        "numpy brute force": statistics.median(seconds(lambda q=q: numpy_top(vectors, q, 10)) for q in held),
        "FAISS exact (IndexFlatIP)": statistics.median(
            seconds(lambda q=q: store.index.search(q.reshape(1, -1), 10)) for q in held),
        f"FAISS IVF (nlist={nlist}, nprobe={nprobe})": statistics.median(
            seconds(lambda q=q: ivf.search(q.reshape(1, -1), 10)) for q in held),
    }
    _, exact_held = store.index.search(held, 10)
    faiss.cvar.indexIVF_stats.reset()
    _, ivf_held = ivf.search(held, 10)
    work = (faiss.cvar.indexIVF_stats.ndis + len(held) * nlist) / (len(held) * ivf.ntotal)
    numpy_held = np.array([np.asarray(ids)[numpy_top(vectors, q, 10)] for q in held])
    recall_vs_exact = {
        "numpy brute force": np.mean([len(set(a) & set(b)) / 10 for a, b in zip(numpy_held, exact_held, strict=True)]),
        "FAISS exact (IndexFlatIP)": 1.0,
        f"FAISS IVF (nlist={nlist}, nprobe={nprobe})": np.mean(
            [len(set(a) & set(b)) / 10 for a, b in zip(ivf_held, exact_held, strict=True)]),
    }
    held_qrels = {c: qrels[c] for c in held_ids}
    runs = {
        "numpy brute force": numpy_doc_runs(vectors, doc_of, held, held_ids),
        "FAISS exact (IndexFlatIP)": doc_runs(nb, store.index, store.chunks, held, held_ids),
        f"FAISS IVF (nlist={nlist}, nprobe={nprobe})": doc_runs(nb, ivf, store.chunks, held, held_ids),
    }

    print(f"SciFact: {len(corpus)} abstracts -> {len(chunks_list)} chunks of <= 128 words, "
          f"{vectors.shape[1]} dimensions (stub embedder); {len(held)} held-out claims")
    print(f"chunking {chunk_time:.2f} s (median of {args.repeat}); embedding {embed_time:.2f} s "
          f"({len(chunks_list) / embed_time:.0f} chunks/s, through the SDK and the stub)")
    print(f"index build (median of {args.repeat}): exact {exact_build * 1000:.0f} ms; IVF {ivf_build * 1000:.0f} ms "
          f"(k-means training included); numpy needs none")
    baseline = latency["numpy brute force"]
    print(f"\n{'search':<40}{'latency':>10}{'vs numpy':>10}{'R@10 vs exact':>15}{'nDCG@10':>9}{'R@100':>8}")
    for name, value in latency.items():
        ndcg = mean_metric(ndcg_at_k, runs[name], held_qrels, k=10)
        recall = mean_metric(recall_at_k, runs[name], held_qrels, k=100)
        print(f"{name:<40}{value * 1000:>8.2f}ms{baseline / value:>9.2f}x{recall_vs_exact[name]:>15.3f}"
              f"{ndcg:>9.3f}{recall:>8.3f}")
    print(f"\nIVF work: {work:.1%} of exact search's distance computations (FAISS's counters, quantizer included)")


if __name__ == "__main__":
    main()
