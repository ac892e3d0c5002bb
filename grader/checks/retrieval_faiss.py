"""Checks for pillar 3, embedding retrieval with FAISS (``solutions/03_retrieval_faiss.ipynb``).

Every verdict is recomputed here, independently of the learner's code: chunks from the
text, batches from the stub's request log, expected vectors from the stub's own embedder,
nearest neighbours with numpy, metrics with :mod:`grader.metrics`, and the approximate
index's work with FAISS's distance counters on a copy of the learner's index deserialised
in this process. Inputs come from ``rng``: a shuffled sample of SciFact abstracts and
claims, random vectors, random limits; the edge cases each part is about are always in.

PYTEST_DONT_REWRITE: feedback is the assert message as written, under pytest too.
"""

from __future__ import annotations

import functools
import math
import random
import re
from pathlib import Path
from typing import Any

import numpy as np

from grader import metrics
from grader.checks import LearnerRaised, fail, kind, make, part, unanswered
from grader.engine.remote import LearnerObject

EMBEDDING_MODEL = "text-embedding-3-small"
CHAT_MODEL = "gpt-4o-mini"
EMBEDDINGS_PATH = "/v1/embeddings"
CHAT_PATH = "/v1/chat/completions"
MAX_REQUEST_TOKENS = 300_000
WORD = re.compile(r"\S+")
CITATION = re.compile(r"\[([\w-]+)\]")


# -- helpers ---------------------------------------------------------------------------------



def _count_tokens(text: str) -> int:
    """The notebook's ``count_tokens`` (an upper bound on the stub's and the real tokenizer's count)."""
    return len(text) // 3 + 1


@functools.cache
def _scifact() -> tuple[dict[str, str], dict[str, str], dict[str, frozenset[str]]]:
    """(doc texts, test claims, test qrels), read once per grading process."""
    from grader.datasets import scifact

    docs = {doc_id: scifact.doc_text(doc) for doc_id, doc in scifact.load_corpus().items()}
    qrels = {query: frozenset(relevant) for query, relevant in scifact.load_qrels("test").items()}
    return docs, scifact.load_queries("test"), qrels


def _sample_docs(rng: random.Random, n: int) -> list[tuple[str, str]]:
    docs = _scifact()[0]
    return [(doc_id, docs[doc_id]) for doc_id in rng.sample(sorted(docs), n)]


def _client() -> Any:
    return make("openai_client", max_retries=0, timeout=5)


def _unit_rows(generator: np.random.Generator, n: int, d: int) -> np.ndarray:
    vectors = generator.standard_normal((n, d)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _numpy(rng: random.Random) -> np.random.Generator:
    return np.random.default_rng(rng.randrange(2**32))


# -- part 1: chunking ------------------------------------------------------------------------

def expected_chunks(doc_id: str, text: str, max_words: int, overlap: int) -> list[dict]:
    """Chunks as the notebook specifies them, computed from word spans."""
    spans = [m.span() for m in WORD.finditer(text)]
    step, chunks, first = max_words - overlap, [], 0
    while first < len(spans):
        last = min(first + max_words, len(spans)) - 1
        start, end = spans[first][0], spans[last][1]
        chunks.append({"doc_id": doc_id, "start": start, "end": end, "text": text[start:end]})
        if last == len(spans) - 1:
            break
        first += step
    return chunks


def _chunk_problem(got: Any, doc_id: str, text: str, max_words: int, overlap: int) -> str | None:
    """What is wrong with *got* as the chunks of *text*, in the learner's terms; None if right."""
    call = f"chunk_text({doc_id!r}, <{len(WORD.findall(text))} words>, max_words={max_words}, overlap={overlap})"
    want = expected_chunks(doc_id, text, max_words, overlap)
    if type(got) is not list or not all(type(c) is dict for c in got):
        return f"{call} returned a {kind(got)}; return a list of dicts."
    if not want and got:
        return f"{call} on a text without words returned {len(got)} chunk(s); it has none (never an empty chunk)."
    spans = [m.span() for m in WORD.finditer(text)]
    starts, ends = {s for s, _ in spans}, {e for _, e in spans}
    for i, chunk in enumerate(got):
        missing = {"doc_id", "start", "end", "text"} - set(chunk)
        if missing:
            return f"{call}: chunk {i} has no {sorted(missing)}."
        start, end, piece = chunk["start"], chunk["end"], chunk["text"]
        if chunk["doc_id"] != doc_id:
            return f"{call}: chunk {i} has doc_id {chunk['doc_id']!r}; keep the document's id."
        if type(start) is not int or type(end) is not int:
            return f"{call}: chunk {i}'s offsets are {kind(start)}/{kind(end)}; use ints."
        if piece != text[start:end]:
            return (f"{call}: chunk {i}'s text is not text[start:end] (start={start}, end={end}): an off-by-one "
                    f"offset? text[{start}:{end}] is {text[start:end][:40]!r}..., the chunk is {piece[:40]!r}...")
        if not piece.strip():
            return f"{call}: chunk {i} is empty; never return an empty chunk."
        if start not in starts or end not in ends:
            return (f"{call}: chunk {i} (start={start}, end={end}) does not run from the first character of a word "
                    "to the last character of a word: an off-by-one offset?")
        if len(WORD.findall(piece)) > max_words:
            return f"{call}: chunk {i} has {len(WORD.findall(piece))} words, more than max_words: an oversize chunk."
    first_word = {s: w for w, (s, _) in enumerate(spans)}
    last_word = {e: w for w, (_, e) in enumerate(spans)}
    ranges = [(first_word[c["start"]], last_word[c["end"]]) for c in got]
    covered = set()
    for first, last in ranges:
        covered.update(range(first, last + 1))
    lost = [w for w in range(len(spans)) if w not in covered]
    if lost:
        words = " ".join(text[slice(*spans[w])] for w in lost[:6])
        return (f"{call}: the overlap drops text: {len(lost)} word(s) are in no chunk (from word {lost[0]}: "
                f"{words!r}...). Each chunk must start max_words - overlap words after the previous one.")
    for i in range(1, min(len(got), len(want))):
        shared = max(0, ranges[i - 1][1] - ranges[i][0] + 1)
        if shared != overlap:
            return (f"{call}: chunks {i - 1} and {i} share {shared} words; consecutive chunks share exactly "
                    f"overlap={overlap} words.")
    if got != want:
        if len(got) > len(want):
            return (f"{call} returned {len(got)} chunks where {len(want)} cover the text: stop after the chunk that "
                    "reaches the last word (a chunk inside the previous one adds nothing).")
        return f"{call} returned {len(got)} chunks; expected {len(want)}: {want[-1]} should be the last."
    return None


def _texts_for_chunking(rng: random.Random, max_words: int, overlap: int) -> list[tuple[str, str]]:
    """Edge cases first (no words, exact fits, odd whitespace), then shuffled SciFact abstracts."""
    step = max_words - overlap
    words = _sample_docs(rng, 1)[0][1].split()
    words = (words * (1 + (3 * max_words) // max(len(words), 1)))[: 3 * max_words]

    def text_of(n: int, sep: str = " ") -> str:
        return sep.join(words[:n])

    cases = [
        ("empty", ""),
        ("blank", rng.choice([" \n\t ", "   ", "\n\n"])),
        ("one-word", "  " + words[0] + "\n"),
        ("exact", text_of(max_words)),
        ("one-more", text_of(max_words + 1)),
        ("exact-steps", text_of(max_words + rng.randint(1, 2) * step)),
        ("spaced", "\n " + text_of(max_words + rng.randint(1, step), rng.choice(["  ", "\n", " \t "])) + "  \n"),
    ]
    for doc_id, text in _sample_docs(rng, 3):  # abstracts cut to a few chunks' worth, at a word's end
        ends = [m.end() for m in WORD.finditer(text)]
        cases.append((doc_id, text[: ends[min(len(ends), 5 * max_words + rng.randint(0, step)) - 1]]))
    return cases


@part("rf-chunking", weight=2, hint="Take the word spans with WORD.finditer(text); chunk i runs from the start "
      "of word i*step to the end of word min(i*step + max_words, n) - 1, with step = max_words - overlap; stop "
      "after the chunk that reaches the last word.")
def test_chunks_are_exact_overlapping_slices(nb, rng, quick):
    sizes = [(rng.randint(5, 12), None), (rng.randint(30, 80), None)]
    sizes = [(m, rng.randint(1, m // 2) if o is None else o) for m, o in sizes] + [(rng.randint(4, 9), 0), (1, 0)]
    for max_words, overlap in sizes[:2] if quick else sizes:
        for doc_id, text in _texts_for_chunking(rng, max_words, overlap):
            got = nb.chunk_text(doc_id, text, max_words=max_words, overlap=overlap)
            problem = _chunk_problem(got, doc_id, text, max_words, overlap)
            assert problem is None, problem


@part("rf-chunking", hint="Check the sizes first: raise ValueError unless max_words >= 1 and "
      "0 <= overlap < max_words.")
def test_impossible_sizes_are_refused(nb, rng):
    text = _sample_docs(rng, 1)[0][1]
    size = rng.randint(2, 20)
    for max_words, overlap in [(size, size), (size, size + rng.randint(1, 5)), (0, 0), (size, -1)]:
        try:
            got = nb.chunk_text("doc", text, max_words=max_words, overlap=overlap)
        except LearnerRaised as error:
            unanswered(error)
            assert error.is_a("ValueError"), (
                f"chunk_text(max_words={max_words}, overlap={overlap}) raised {error.type_name}; raise ValueError.")
        else:
            fail(f"chunk_text(max_words={max_words}, overlap={overlap}) returned {len(got)} chunks; these sizes "
                  "never advance (or make no sense): raise ValueError.")


@part("rf-chunking", hint="chunk_corpus: for each (doc_id, text) of corpus.items(), in order, extend the list "
      "with chunk_text(doc_id, text, max_words, overlap).")
def test_corpus_is_chunked_in_order(nb, rng):
    docs = _sample_docs(rng, rng.randint(3, 6))
    docs.insert(rng.randrange(len(docs) + 1), (f"blank-{rng.randrange(1000)}", "  "))
    corpus = dict(docs)
    max_words = rng.randint(20, 60)
    overlap = rng.randint(0, max_words // 3)
    want = [c for doc_id, text in docs for c in expected_chunks(doc_id, text, max_words, overlap)]
    got = nb.chunk_corpus(corpus, max_words=max_words, overlap=overlap)
    assert type(got) is list and len(got) == len(want), (
        f"chunk_corpus over {len(corpus)} documents returned {len(got) if type(got) is list else kind(got)} chunks; "
        f"expected {len(want)}.")
    assert got == want, "chunk_corpus's chunks differ from chunk_text's, document by document, in the corpus's order."


# -- part 2: embedding in batches ------------------------------------------------------------

def expected_batches(texts: list[str], max_inputs: int, max_tokens: int) -> list[tuple[int, int]]:
    batches, start, tokens = [], 0, 0
    for i, text in enumerate(texts):
        size = _count_tokens(text)
        if i - start >= max_inputs or tokens + size > max_tokens:
            batches.append((start, i))
            start, tokens = i, 0
        tokens += size
    return batches + ([(start, len(texts))] if start < len(texts) else [])


def _snippets(rng: random.Random, n: int) -> list[str]:
    """Pieces of shuffled SciFact abstracts, 1 to 60 words long (distinct, none empty)."""
    texts: list[str] = []
    for _, text in _sample_docs(rng, n):
        words = text.split()
        start = rng.randrange(max(len(words) - 1, 1))
        texts.append(" ".join(words[start:start + rng.randint(1, 60)]))
    return texts


def _embedding_requests(stub: Any) -> list:
    return [r for r in stub.requests if r.path == EMBEDDINGS_PATH]


def _inputs(request: Any) -> list:
    value = (request.body or {}).get("input")
    return [value] if isinstance(value, str) else list(value or [])


def _expected_vectors(texts: list[str], dimensions: int) -> np.ndarray:
    from grader.stub.embedder import embed

    return embed(texts, dimensions=dimensions)


def _check_vectors(got: Any, texts: list[str], dimensions: int, what: str) -> None:
    assert isinstance(got, np.ndarray), f"{what} returned a {kind(got)}; return a numpy array."
    assert got.dtype == np.float32, (
        f"{what} returned {got.dtype} arrays; FAISS works on float32 (float64 doubles the memory and is "
        "converted again on every call): use dtype=np.float32.")
    assert got.shape == (len(texts), dimensions), (
        f"{what} returned shape {got.shape}; expected one row per text, {(len(texts), dimensions)}.")
    norms = np.linalg.norm(got, axis=1)
    assert np.allclose(norms, 1, atol=1e-4), (
        f"{what}'s rows have lengths from {norms.min():.3f} to {norms.max():.3f}: unnormalised vectors in an "
        "inner-product index rank by length as well as by angle. Normalise each row to length 1.")
    want = _expected_vectors(texts, dimensions)
    wrong = [i for i in range(len(texts)) if not np.allclose(got[i], want[i], atol=1e-4)]
    assert not wrong, (
        f"{what}: rows {wrong[:5]} are not the embeddings of texts {wrong[:5]}: keep the order of the texts "
        "(and of each response's `index` field).")


@part("rf-embedding", hint="np.array(vectors, dtype=np.float32), then divide each row by its norm, using 1 for "
      "the norm of an all-zero row.")
def test_normalize_gives_unit_float32_rows(nb, rng):
    generator = _numpy(rng)
    n, d = rng.randint(5, 12), rng.randint(3, 40)
    vectors = generator.standard_normal((n, d)) * generator.uniform(0.01, 50, size=(n, 1))
    zero = rng.randrange(n)
    vectors[zero] = 0.0
    got = nb.normalize(vectors)
    assert isinstance(got, np.ndarray) and got.shape == (n, d), (
        f"normalize returned {kind(got)} {getattr(got, 'shape', '')}; return an array of the input's shape {(n, d)}.")
    assert got.dtype == np.float32, (
        f"normalize returned {got.dtype} arrays; FAISS works on float32: convert with dtype=np.float32.")
    assert np.isfinite(got).all(), (
        "normalize returned NaN or inf: an all-zero row divided by its zero norm. Leave zero rows at zero.")
    assert not got[zero].any(), "normalize changed an all-zero row; it should stay zero."
    rows = [i for i in range(n) if i != zero]
    norms = np.linalg.norm(got[rows], axis=1)
    assert np.allclose(norms, 1, atol=1e-5), (
        f"normalize's rows have lengths from {norms.min():.4f} to {norms.max():.4f}: unnormalised vectors in an "
        "inner-product index rank by length as well as by angle. Divide each row by its own L2 norm.")
    cosine = np.sum(got[rows] * vectors[rows], axis=1) / np.linalg.norm(vectors[rows], axis=1)
    assert np.allclose(cosine, 1, atol=1e-4), "normalize changed the rows' directions; only scale each row."


@part("rf-embedding", hint="Walk the texts once, keeping the current batch's count and tokens; close the batch "
      "when the next text would break either limit. Check count_tokens(text) > max_tokens first.")
def test_batches_are_full_and_within_the_limits(nb, rng, quick):
    for trial in range(2 if quick else 4):
        texts = _snippets(rng, rng.randint(10, 25))
        sizes = [_count_tokens(t) for t in texts]
        max_inputs = rng.randint(2, 6)
        max_tokens = max(sizes) + rng.randint(0, 2 * max(sizes))
        if trial == 0:  # a text exactly at the token limit, which fits alone
            max_tokens = max(sizes)
        if trial == 1:  # the count limit is the one that binds
            max_tokens = sum(sizes)
        if trial == 2:  # the first two texts fill a batch to the token exactly
            largest = sizes.index(max(sizes))
            texts.insert(0, texts.pop(largest))
            sizes = [_count_tokens(t) for t in texts]
            max_inputs, max_tokens = max(max_inputs, 3), sizes[0] + sizes[1]
        want = expected_batches(texts, max_inputs, max_tokens)
        got = _pairs(nb.plan_batches(texts, max_inputs, max_tokens))
        for start, end in got:
            assert end - start <= max_inputs, (
                f"plan_batches made a batch of {end - start} texts with max_inputs={max_inputs}: a batch over the "
                "limit is a 400 from the API.")
            tokens = sum(sizes[start:end])
            assert tokens <= max_tokens, (
                f"plan_batches made a batch of {tokens} tokens with max_tokens={max_tokens}: a batch over the limit "
                "is a 400 from the API. Count tokens with count_tokens.")
        assert [i for start, end in got for i in range(start, end)] == list(range(len(texts))), (
            f"plan_batches' ranges {got[:6]}... do not cover every text once, in order.")
        assert got == want, (
            f"plan_batches made {len(got)} batches where {len(want)} suffice ({want[:4]}...): fill each batch as far "
            "as both limits allow; every extra request costs a round trip.")
    _batches_at_the_token_edges(nb, rng)
    got = nb.plan_batches([], rng.randint(1, 5), rng.randint(10, 100))
    assert got == [] or got == (), f"plan_batches([]) returned {got!r}: no texts, no batches (not an empty request)."
    texts = _snippets(rng, 6)
    too_long = rng.randrange(len(texts))
    limit = max(_count_tokens(t) for i, t in enumerate(texts) if i != too_long) + 5
    texts[too_long] = " ".join([texts[too_long]] * (1 + (3 * limit) // max(len(texts[too_long]), 1)))
    try:
        got = nb.plan_batches(texts, 4, limit)
    except LearnerRaised as error:
        unanswered(error)
        assert error.is_a("ValueError"), f"A text over max_tokens raised {error.type_name}; raise ValueError."
    else:
        fail(f"plan_batches accepted text {too_long}, whose {_count_tokens(texts[too_long])} tokens exceed "
              f"max_tokens={limit} on their own: no batch can carry it, so raise ValueError.")


def _batches_at_the_token_edges(nb: Any, rng: random.Random) -> None:
    """Texts of exact token counts: pairs one token over the limit (first and later batches) must be split,
    and a later pair exactly at the limit must share a batch: every batch counts its tokens from 0."""
    limit = rng.randint(20, 60)
    b, a, c = rng.randint(2, limit - 1), rng.randint(2, limit - 2), rng.randint(2, limit - 1)
    sizes = [b, limit + 1 - b, limit, a, limit - a, c, limit + 1 - c]
    source = " ".join(_snippets(rng, 4)) + " "
    source *= 1 + 3 * limit // len(source)
    texts = [source[: 3 * (size - 1)] for size in sizes]  # count_tokens: len // 3 + 1
    assert [_count_tokens(t) for t in texts] == sizes, "the check's own texts have the wrong sizes"
    want = expected_batches(texts, len(texts), limit)
    got = _pairs(nb.plan_batches(texts, len(texts), limit))
    for start, end in got:
        assert sum(sizes[start:end]) <= limit, (
            f"plan_batches put texts of {sizes[start:end]} tokens in one batch with max_tokens={limit}: "
            f"{sum(sizes[start:end])} tokens, one batch over the limit (a 400 from the API). Count each batch's "
            "tokens from 0, and close it when the next text would take it past max_tokens.")
    assert got == want, (
        f"With max_tokens={limit} and texts of {sizes} tokens, plan_batches made {got}; the full batches are {want}: "
        "a batch of exactly max_tokens tokens is within the limit (count each batch's tokens from 0).")


def _pairs(got: Any) -> list[tuple]:
    """plan_batches' answer as (start, end) tuples, or a failed check saying what it was."""
    if type(got) not in (list, tuple) or not all(
            type(b) in (list, tuple) and len(b) == 2 and all(type(i) is int or isinstance(i, np.integer) for i in b)
            for b in got):
        fail(f"plan_batches returned {kind(got)} {got!r:.80}; return a list of (start, end) pairs of ints.")
    return [(int(b[0]), int(b[1])) for b in got]


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) or isinstance(value, np.number)


def _embed(nb: Any, texts: list[str], dimensions: int, **limits: Any) -> Any:
    return nb.embed_texts(_client(), texts, model=EMBEDDING_MODEL, dimensions=dimensions, **limits)


@part("rf-embedding", weight=1.5, hint="One client.embeddings.create(model=..., input=texts[start:end], "
      "dimensions=...) per plan_batches range, rows in order, then normalize(np.vstack(...)).")
def test_texts_are_embedded_in_batches_in_order(nb, stub, rng):
    texts = _snippets(rng, rng.randint(9, 13))
    dimensions = rng.choice([16, 32, 48])
    max_inputs = rng.randint(2, 4)
    max_tokens = max(_count_tokens(t) for t in texts) + rng.randint(10, 60)
    got = _embed(nb, texts, dimensions, max_inputs=max_inputs, max_tokens=max_tokens)
    requests = _embedding_requests(stub)
    assert requests, "embed_texts made no request to client.embeddings.create."
    assert all(r.status == 200 for r in requests), (
        f"The API refused {sum(r.status != 200 for r in requests)} of embed_texts' requests (statuses "
        f"{[r.status for r in requests]}).")
    for r in requests:
        inputs = _inputs(r)
        assert len(inputs) <= max_inputs, (
            f"A request carried {len(inputs)} inputs with max_inputs={max_inputs}: batches over the limit are a 400.")
        tokens = sum(_count_tokens(t) for t in inputs if isinstance(t, str))
        assert tokens <= max_tokens, (
            f"A request carried {tokens} tokens with max_tokens={max_tokens}: batches over the limit are a 400.")
        assert r.body.get("dimensions") == dimensions, (
            f"embed_texts sent dimensions={r.body.get('dimensions')!r}; pass on dimensions={dimensions}.")
    sent = [t for r in requests for t in _inputs(r)]
    assert sent == texts, (
        "The texts sent, request after request, are not the texts in order, each once: "
        f"{len(sent)} inputs sent for {len(texts)} texts.")
    want = len(expected_batches(texts, max_inputs, max_tokens))
    assert len(requests) == want, (
        f"embed_texts made {len(requests)} requests where {want} suffice: send one request per planned batch.")
    _check_vectors(got, texts, dimensions, "embed_texts")


@part("rf-embedding", weight=1.5, hint="Retry inside the loop over batches: on RateLimitError, InternalServerError "
      "or APIConnectionError sleep and send the same batch again, at most max_attempts times; re-raise other errors.")
def test_a_failed_batch_is_retried_alone(nb, stub, rng, quick):
    faults = [("rate_limit", {"retry_after_ms": 50}), ("server_error", {"status": 500}),
              ("server_error", {"status": 503}), ("drop_connection", {})]
    for trial in range(1 if quick else 2):
        stub.reset()
        texts = _snippets(rng, rng.randint(7, 10))
        max_inputs = rng.randint(2, 3)
        batches = expected_batches(texts, max_inputs, 10**6)
        failing = rng.randrange(1, len(batches))  # never the first: a restart would show
        stub.queue_fault("delay", failing, path=EMBEDDINGS_PATH, seconds=0)
        chosen = rng.sample(faults, 1) if trial == 0 else rng.sample(faults[1:], 2)  # no retry-after on two
        for fault, params in chosen:
            stub.queue_fault(fault, path=EMBEDDINGS_PATH, **params)
        try:
            got = _embed(nb, texts, 16, max_inputs=max_inputs, max_tokens=10**6, max_attempts=4)
        except LearnerRaised as error:
            unanswered(error)
            fail(f"After {' then '.join(f for f, _ in chosen)} on batch {failing + 1} of {len(batches)}, "
                  f"embed_texts raised {error.type_name}: {error.message[:150]}. Transient errors are worth a retry.")
        requests = _embedding_requests(stub)
        per_request = [tuple(_inputs(r)) for r in requests]
        want = [tuple(texts[s:e]) for s, e in batches]
        want = want[:failing] + [want[failing]] * len(chosen) + want[failing:]
        if len(per_request) > len(want) and per_request[:failing + len(chosen)] == want[:failing + len(chosen)]:
            fail(f"After one failed batch (batch {failing + 1} of {len(batches)}), embed_texts sent "
                  f"{len(per_request)} requests where {len(want)} suffice: it re-embedded everything after one "
                  "failed batch. Retry only the batch that failed.")
        assert per_request == want, (
            f"With batch {failing + 1} of {len(batches)} failing {len(chosen)} time(s), the requests should be the "
            f"batches in order with only that one repeated ({len(want)} requests); embed_texts sent "
            f"{len(per_request)}: {[len(p) for p in per_request]} inputs each.")
        sleeps = [round(s, 3) for s in nb.last.sleeps]
        assert len(sleeps) == len(chosen) and all(s > 0 for s in sleeps), (
            f"embed_texts slept {sleeps} s around {len(chosen)} failure(s): wait before each retry (time.sleep), "
            "or a struggling API gets hit again at once.")
        assert sleeps == sorted(sleeps) and (len(sleeps) < 2 or sleeps[-1] > sleeps[0]), (
            f"embed_texts waited {sleeps} s before successive retries of one batch: the delay should grow.")
        _check_vectors(got, texts, 16, "embed_texts")


@part("rf-embedding", hint="Retry only rate limits, 5xx and connection errors, and at most max_attempts times "
      "in all; then let the error propagate.")
def test_retries_stop(nb, stub, rng):
    texts = _snippets(rng, 4)
    attempts = rng.randint(2, 4)
    stub.queue_fault("server_error", attempts + 3, path=EMBEDDINGS_PATH, status=rng.choice([500, 502, 503]))
    try:
        _embed(nb, texts, 16, max_inputs=8, max_tokens=10**6, max_attempts=attempts)
    except LearnerRaised as error:
        unanswered(error)
        assert error.is_a("openai.InternalServerError"), (
            f"After {attempts} failed attempts embed_texts raised {error.type_name}; let the API's error propagate.")
    else:
        fail(f"embed_texts returned although every attempt failed ({attempts + 3} server errors queued).")
    sent = len(_embedding_requests(stub))
    assert sent == attempts, f"With max_attempts={attempts}, embed_texts made {sent} attempts at a failing batch."
    stub.reset()
    texts = [*_snippets(rng, 3), ""]  # the API refuses an empty input: a 400, never worth a retry
    try:
        _embed(nb, texts, 16, max_inputs=8, max_tokens=10**6, max_attempts=attempts)
    except LearnerRaised as error:
        unanswered(error)
    sent = len(_embedding_requests(stub))
    assert sent == 1, f"embed_texts retried a 400 (a request the API refuses): {sent} requests. Retry only 429/5xx."


@part("rf-embedding", hint="Default max_inputs to MAX_INPUTS_PER_REQUEST and max_tokens to MAX_TOKENS_PER_REQUEST.")
def test_default_limits_are_the_apis(nb, rng):
    tail = rng.randint(1, 20)
    short = [f"w{i}" for i in range(2048 + tail)]
    got = _pairs(nb.plan_batches(short))
    assert got == [(0, 2048), (2048, len(short))], (
        f"With the default limits, plan_batches splits {len(short)} short texts as {got[:3]}: the API takes up to "
        "2048 inputs per request (MAX_INPUTS_PER_REQUEST); batches over the limit are refused, smaller ones waste "
        "round trips.")
    per_text = rng.randint(20_000, 30_000)  # characters: about 7,000 to 10,000 tokens by count_tokens
    long = ["x" * per_text] * 40
    fits = MAX_REQUEST_TOKENS // _count_tokens(long[0])
    got = _pairs(nb.plan_batches(long))
    assert got == expected_batches(long, 2048, MAX_REQUEST_TOKENS), (
        f"With the default limits, plan_batches splits 40 texts of {_count_tokens(long[0])} tokens as {got}; "
        f"{fits} fit in the 300,000 tokens a request may carry (MAX_TOKENS_PER_REQUEST).")


# -- part 3: an exact index with stable ids --------------------------------------------------

def _chunks_for(rng: random.Random, doc_ids: list[str], n: int) -> list[dict]:
    chunks = []
    for i in range(n):
        doc_id = rng.choice(doc_ids)
        start = rng.randrange(1000)
        chunks.append({"doc_id": doc_id, "start": start, "end": start + 40, "text": f"chunk {i} of {doc_id}"})
    return chunks


def _exact(vectors: np.ndarray, ids: list[int], queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = queries @ vectors.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), np.asarray(ids)[order]


def _search_matches(index: Any, vectors: np.ndarray, ids: list[int], generator: np.random.Generator,
                    what: str) -> None:
    """Search *index* through the learner's FAISS and compare with exact numpy search over (vectors, ids)."""
    if not isinstance(index, LearnerObject) and not hasattr(index, "search"):
        fail(f"{what} is a {kind(index)}, not a FAISS index.")
    total = index.ntotal
    assert total == len(ids), f"{what} holds {total} vectors; expected {len(ids)}."
    queries = np.vstack([vectors[: min(3, len(ids))], _unit_rows(generator, 3, vectors.shape[1])])
    k = min(5, len(ids))
    scores, found = index.search(queries, k)
    want_scores, want_ids = _exact(vectors, ids, queries, k)
    if not np.array_equal(np.asarray(found), want_ids):
        if set(np.asarray(found).ravel()) - set(ids):
            fail(f"{what} answers with ids {sorted(set(np.asarray(found).ravel()) - set(ids))[:5]} that are not the "
                  f"chunks' ids {sorted(ids)[:5]}...: the ids drift (FAISS numbers vectors by position unless you "
                  "use an IndexIDMap and add_with_ids).")
        fail(f"{what} finds ids {np.asarray(found)[0].tolist()} for a query whose exact neighbours are "
              f"{want_ids[0].tolist()}: the ids drift, or the vectors went in under the wrong ids.")
    assert np.allclose(scores, want_scores, atol=1e-4), (
        f"{what} scores {np.asarray(scores)[0][:3].tolist()} where the inner products are "
        f"{want_scores[0][:3].tolist()}: use an inner-product index (IndexFlatIP), not L2.")


def _store_case(rng: random.Random) -> dict:
    generator = _numpy(rng)
    d = rng.choice([8, 12, 16])
    doc_ids = [doc_id for doc_id, _ in _sample_docs(rng, rng.randint(4, 6))]
    sizes = [rng.randint(6, 12), rng.randint(3, 8), rng.randint(2, 5)]
    return {"d": d, "docs": doc_ids, "generator": generator,
            "batches": [(_unit_rows(generator, n, d), _chunks_for(rng, doc_ids, n)) for n in sizes]}


def _add(store: Any, vectors: np.ndarray, chunks: list[dict], expected: list[int], when: str) -> None:
    got = store.add(vectors, chunks)
    got = [int(i) for i in got] if type(got) in (list, tuple) or isinstance(got, np.ndarray) else got
    if got != expected:
        taken = set(got) & set(range(expected[0])) if type(got) is list else set()
        reason = (" that are already in use: number from the largest id in use + 1, not from len(chunks)"
                  if taken else "")
        fail(f"{when}, add gave ids {got}; expected {expected}{reason}. Ids must stay stable: never reuse a live "
              "id, never renumber.")


def _remove_middle_doc(rng: random.Random, store: Any, model: dict[int, dict]) -> None:
    """Remove a document that does not own the largest id, so later ids are unambiguous."""
    top = model[max(model)]["doc_id"]
    candidates = sorted({c["doc_id"] for c in model.values()} - {top})
    if not candidates:
        return
    doc_id = rng.choice(candidates)
    gone = [i for i, c in model.items() if c["doc_id"] == doc_id]
    got = store.remove_document(doc_id)
    assert got == len(gone), f"remove_document({doc_id!r}) returned {got!r}; that document had {len(gone)} chunks."
    for i in gone:
        del model[i]


def _live(batches: list, model: dict[int, dict]) -> tuple[np.ndarray, list[int]]:
    vectors = np.vstack([v for v, _ in batches])
    ids = sorted(model)
    return vectors[ids], ids


@part("rf-index", weight=2, hint="IndexIDMap(IndexFlatIP(d)); add: ids = range(max(chunks, default=-1) + 1, ...), "
      "add_with_ids(vectors, np.array(ids, dtype=np.int64)); remove_document: remove_ids and del from chunks.")
def test_ids_stay_stable_through_adds_and_removals(nb, rng):
    case = _store_case(rng)
    store = nb.ChunkIndex(case["d"])
    model: dict[int, dict] = {}
    (v1, c1), (v2, c2), (v3, c3) = case["batches"]
    _add(store, v1, c1, list(range(len(c1))), "On an empty index")
    model.update(enumerate(c1))
    _add(store, v2, c2, list(range(len(c1), len(c1) + len(c2))), "After a first add")
    model.update(zip(range(len(c1), len(c1) + len(c2)), c2, strict=False))
    _remove_middle_doc(rng, store, model)
    first = max(model) + 1
    _add(store, v3, c3, list(range(first, first + len(c3))), "After remove_document")
    model.update(zip(range(first, first + len(c3)), c3, strict=False))
    chunks = store.chunks
    assert chunks == model, (
        f"ChunkIndex.chunks has ids {sorted(chunks)[:8] if type(chunks) is dict else kind(chunks)}...; expected "
        f"{sorted(model)[:8]}... each with its chunk.")
    vectors, ids = _live(case["batches"], model)
    _search_matches(store.index, vectors, ids, case["generator"], "After adds and a removal, ChunkIndex.index")


@part("rf-index", weight=2, hint="save: faiss.write_index(self.index, str(dir / 'index.faiss')) and the chunks as "
      "JSON; load: faiss.read_index, and turn the JSON's string keys back into ints.")
def test_save_and_load_round_trip(nb, rng):

    case, other = _store_case(rng), _store_case(rng)
    # In the learner's temporary folder as the learner's side sees it (a sandboxed scratch
    # folder only it can see when grading; the kernel's in Jupyter), so what it wrote is read
    # back on its side too, and nothing is left beside the learner's notebook.
    scratch = Path(nb.os.getenv("TMPDIR") or "/tmp") / f"grader-check-{rng.randrange(10**6)}"
    directory = scratch / f"nested-{rng.randrange(1000)}" / "index"
    store = nb.ChunkIndex(case["d"])
    model: dict[int, dict] = {}
    for vectors, chunks in case["batches"][:2]:
        first = max(model, default=-1) + 1
        store.add(vectors, chunks)
        model.update(zip(range(first, first + len(chunks)), chunks, strict=False))
    _remove_middle_doc(rng, store, model)
    store.save(str(directory))
    decoy = nb.ChunkIndex(other["d"])
    decoy.add(*other["batches"][0])
    decoy.save(str(scratch / "decoy"))
    files = _listed(nb, directory)
    assert {"index.faiss", "chunks.json"} <= set(files), (
        f"save({str(directory)!r}) wrote {files}; write index.faiss and chunks.json there (create the folder).")
    on_disk = _local_copy(nb, nb.faiss.read_index(str(directory / "index.faiss")))
    vectors, ids = _live(case["batches"][:2], model)
    _search_matches(on_disk, vectors, ids, case["generator"], "The saved index.faiss")
    loaded = nb.ChunkIndex.load(str(directory))
    chunks = loaded.chunks
    if type(chunks) is dict and chunks and all(type(key) is str for key in chunks):
        fail("After ChunkIndex.load, the chunk ids are strings ('3', not 3): JSON keys are always strings, so "
              "the ids drift after a reload and no search result finds its chunk. Convert them back with int().")
    assert chunks == model, (
        "ChunkIndex.load's chunks differ from the saved ones (was the other index in memory loaded instead of "
        "the files?).")
    _search_matches(loaded.index, vectors, ids, case["generator"], "The loaded index")
    vectors3, chunks3 = case["batches"][2]
    first = max(model) + 1
    _add(loaded, vectors3, chunks3, list(range(first, first + len(chunks3))), "After a reload")
    model.update(zip(range(first, first + len(chunks3)), chunks3, strict=True))
    loaded.save(str(directory))  # saving again over the same folder: the update replaces the old files
    again = nb.ChunkIndex.load(str(directory))
    assert again.chunks == model, (
        "After add and a second save into the same folder, ChunkIndex.load gives the old chunks: save must "
        "overwrite index.faiss and chunks.json.")
    vectors = np.vstack([vectors, vectors3])
    _search_matches(again.index, vectors, [*ids, *range(first, first + len(chunks3))], case["generator"],
                    "The index saved again after an add")


def _listed(nb: Any, directory: Path) -> list[str]:
    """The files in *directory* as learner code sees them (the notebook imports os)."""
    try:
        return sorted(nb.os.listdir(str(directory)))
    except LearnerRaised:
        return []


# -- part 4: search --------------------------------------------------------------------------

def _search_case(rng: random.Random) -> dict:
    """Documents of 1 to 5 chunks each, chunks of a document close together; shuffled large ids."""
    generator = _numpy(rng)
    d = rng.choice([8, 12, 16])
    docs = [doc_id for doc_id, _ in _sample_docs(rng, rng.randint(7, 11))]
    centres = _unit_rows(generator, len(docs), d)
    rows, doc_of = [], []
    for doc_id, centre in zip(docs, centres, strict=False):
        for _ in range(rng.randint(1, 5)):
            rows.append(centre + 0.25 * generator.standard_normal(d).astype(np.float32))
            doc_of.append(doc_id)
    vectors = np.vstack(rows).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = rng.sample(range(10**6, 2**40), len(rows))
    ids[rng.randrange(len(ids))] = 0  # a valid id, unlike FAISS's padding -1
    chunks = {i: {"doc_id": doc_id, "start": 0, "end": 10, "text": f"chunk {i}"}
              for i, doc_id in zip(ids, doc_of, strict=True)}
    crowded = max(set(doc_of), key=doc_of.count)  # the query sits among this document's chunks
    query = centres[docs.index(crowded)] + 0.1 * generator.standard_normal(d).astype(np.float32)
    return {"vectors": vectors, "ids": ids, "chunks": chunks, "docs": docs, "generator": generator,
            "query": (query / np.linalg.norm(query)).astype(np.float32)}


def expected_hits(case: dict, query: np.ndarray, k: int, one_per_doc: bool) -> list[dict]:
    scores = case["vectors"] @ query
    hits, seen = [], set()
    for row in np.argsort(-scores, kind="stable"):
        chunk_id = case["ids"][row]
        doc_id = case["chunks"][chunk_id]["doc_id"]
        if one_per_doc and doc_id in seen:
            continue
        seen.add(doc_id)
        hits.append({"id": chunk_id, "doc_id": doc_id, "score": float(scores[row])})
    return hits[:k]


def _learner_index(nb: Any, vectors: np.ndarray, ids: list[int]) -> Any:
    """A correct exact index built on the learner's side with its own FAISS (not with part 3's code)."""
    faiss = nb.faiss
    index = faiss.IndexIDMap(faiss.IndexFlatIP(vectors.shape[1]))
    index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))
    return index


def _search(nb: Any, index: Any, chunks: dict, query: np.ndarray, k: int, one_per_doc: bool) -> Any:
    try:
        return nb.search(index, chunks, query, k=k, one_per_doc=one_per_doc)
    except LearnerRaised as error:
        unanswered(error)
        if error.is_a("KeyError") and error.message.strip("'\"") == "-1":
            fail(f"search(k={k}, one_per_doc={one_per_doc}) looked up chunk id -1: FAISS pads its answer with -1 "
                  "(padding) when asked for more results than the index holds. Skip ids < 0, or never ask for more "
                  "than index.ntotal.")
        raise


def _hits_problem(got: Any, want: list[dict], k: int, one_per_doc: bool, total: int) -> str | None:
    call = f"search(k={k}, one_per_doc={one_per_doc}) over {total} chunks"
    if type(got) is not list or not all(type(h) is dict and {"id", "doc_id", "score"} <= set(h) for h in got):
        return f"{call} returned a {kind(got)}; return a list of {{'id', 'doc_id', 'score'}} dicts."
    if not all(_is_number(h["score"]) and _is_number(h["id"]) for h in got):
        return f"{call} returned ids or scores that are not numbers: {got[:2]}."
    ids = [int(h["id"]) for h in got]
    if -1 in ids:
        return (f"{call} returned id -1: FAISS pads its answer with -1 (padding) when asked for more results than "
                "it has. "
                "Drop those (or never ask for more than index.ntotal).")
    docs = [h["doc_id"] for h in got]
    if one_per_doc and len(set(docs)) < len(docs):
        return (f"{call} returned several chunks of one document ({docs}): several chunks of one document fill the "
                "top-k. Keep each document's best chunk only.")
    scores = [float(h["score"]) for h in got]
    if scores != sorted(scores, reverse=True):
        return f"{call} returned scores {[round(s, 3) for s in scores]}: not best first."
    if len(got) < len(want):
        return (f"{call} returned {len(got)} hits; there are {len(want)} to return. With one_per_doc, ask FAISS for "
                "more chunks until you have k documents or the index is exhausted.")
    if len(got) > len(want):
        return f"{call} returned {len(got)} hits; return at most k."
    if ids != [h["id"] for h in want] or docs != [h["doc_id"] for h in want]:
        return (f"{call} returned ids {ids}; the best are {[h['id'] for h in want]} (documents "
                f"{[h['doc_id'] for h in want]}).")
    if not np.allclose(scores, [h["score"] for h in want], atol=1e-4):
        return f"{call} returned scores {scores[:3]}...; the inner products are {[h['score'] for h in want][:3]}..."
    return None


@part("rf-search", weight=2, hint="index.search(query.reshape(1, -1), fetch) with fetch <= index.ntotal; skip "
      "ids < 0; with one_per_doc keep a document's first (best) chunk and fetch more until you have k documents.")
def test_top_k_best_first_one_per_document(nb, rng, quick):
    for trial in range(2 if quick else 3):
        case = _search_case(rng)
        index = _learner_index(nb, case["vectors"], case["ids"])
        total, ndocs = len(case["ids"]), len(case["docs"])
        queries = [case["query"], _unit_rows(case["generator"], 1, case["vectors"].shape[1])[0]]
        ks = [rng.randint(3, 5), ndocs + rng.randint(1, 3) if trial == 0 else rng.randint(2, 4)]
        for query, k in zip(queries, ks, strict=False):
            for one_per_doc in (True, False):
                got = _search(nb, index, case["chunks"], query, k, one_per_doc)
                problem = _hits_problem(got, expected_hits(case, query, k, one_per_doc), k, one_per_doc, total)
                assert problem is None, problem
        k = total + rng.randint(1, 4)  # more than the index holds: FAISS pads with -1
        got = _search(nb, index, case["chunks"], queries[1], k, False)
        problem = _hits_problem(got, expected_hits(case, queries[1], k, False), k, False, total)
        assert problem is None, problem


# -- part 5: evaluation ----------------------------------------------------------------------

def _ranking_case(rng: random.Random, k: int) -> tuple[list[str], set[str]]:
    """A ranking and its relevant set, with the metric's edges: several relevant, some past k, none found."""
    pool = [f"d{rng.randrange(10**6)}" for _ in range(60)]
    pool = list(dict.fromkeys(pool))
    ranked = pool[: rng.randint(k - 2, 3 * k)]
    shape = rng.choice(["several", "beyond", "none", "many", "first", "short"])
    outside = [d for d in pool if d not in ranked]
    if shape == "none":
        relevant = set(rng.sample(outside, rng.randint(1, 3)))
    elif shape == "many":  # more relevant documents than k
        relevant = set(rng.sample(ranked, min(len(ranked), k + 2))) | set(outside[:2])
    elif shape == "first":
        relevant = {ranked[0]} | set(rng.sample(outside, rng.randint(0, 2)))
    elif shape == "short":
        ranked = ranked[: max(1, k // 2)]
        relevant = {rng.choice(ranked)} | set(outside[:2])
    else:
        relevant = set(rng.sample(ranked[1:], min(len(ranked) - 1, rng.randint(2, 4))))
        if shape == "beyond" and len(ranked) > k:
            relevant |= set(rng.sample(ranked[k:], 1)) | {outside[0]}
    return ranked, relevant


def _metric_case_at_edge(rng: random.Random, k: int) -> list[tuple[list[str], set[str]]]:
    """The first relevant document exactly at rank k, and just past it; three relevant, one found first."""
    ranked = [f"e{rng.randrange(10**6)}-{i}" for i in range(k + 3)]
    return [(ranked, {ranked[k - 1]}), (ranked, {ranked[k], "elsewhere"}), (ranked, {ranked[0], "x1", "x2"}),
            (ranked, set())]


def _named_metric_mistake(name: str, got: float, ranked: list[str], relevant: set[str], k: int) -> str:
    if not relevant:
        return " Nothing is relevant to this query, so nothing relevant is found: the metric is 0.0."
    found = len(set(ranked[:k]) & relevant)
    dcg = sum(1.0 / math.log2(r + 2) for r, d in enumerate(ranked[:k]) if d in relevant)
    ideal_all = sum(1.0 / math.log2(r + 2) for r in range(len(relevant)))
    if name == "recall_at_k" and math.isclose(got, found / k):
        return " It divides by k instead of the number of relevant documents."
    if name == "ndcg_at_k" and math.isclose(got, dcg):
        return " That is DCG: nDCG without the ideal ordering's normalisation."
    if name == "ndcg_at_k" and ideal_all and math.isclose(got, dcg / ideal_all):
        return " Its ideal ranking counts every relevant document; it can only hold min(k, relevant) in the top k."
    if name == "mrr_at_k" and found == 0 and got > 0:
        return f" No relevant document is in the top {k}, so it is 0."
    return ""


@part("rf-evaluation", weight=2, hint="recall: found in the top k / len(relevant); MRR: 1/rank of the first "
      "relevant in the top k; nDCG: sum of 1/log2(rank+1) over relevant hits (ranks from 1) / the same for "
      "min(k, len(relevant)) hits at the top.")
def test_metrics_match_the_definitions(nb, rng, quick):
    references = {"recall_at_k": metrics.recall_at_k, "mrr_at_k": metrics.mrr, "ndcg_at_k": metrics.ndcg_at_k}
    for name, reference in references.items():
        k = rng.choice([5, 10])
        cases = _metric_case_at_edge(rng, k) + [_ranking_case(rng, k) for _ in range(4 if quick else 8)]
        for ranked, relevant in cases:
            try:
                got = getattr(nb, name)(ranked, relevant, k)
            except LearnerRaised as error:
                unanswered(error)
                fail(f"{name}(ranked, relevant, k={k}) raised {error.type_name} ({error.message[:100]}) for "
                     f"{len(relevant)} relevant document(s); expected {reference(ranked, relevant, k=k):.4f}."
                     f"{' With nothing relevant, every metric is 0.0: guard the division.' if not relevant else ''}")
            want = reference(ranked, relevant, k=k)
            assert type(got) in (int, float) or isinstance(got, np.floating), (
                f"{name} returned a {kind(got)}; return a float.")
            assert math.isclose(float(got), want, abs_tol=1e-9), (
                f"{name}(ranked, relevant, k={k}) = {float(got):.4f}; expected {want:.4f} for {len(relevant)} relevant "
                f"document(s) at ranks {[r + 1 for r, d in enumerate(ranked) if d in relevant]} (1 = best) of "
                f"{len(ranked)}.{_named_metric_mistake(name, float(got), ranked, relevant, k)}")


@part("rf-evaluation", hint="evaluate: loop over qrels (not runs); runs.get(query_id, []) for a query without a "
      "run; divide each total by len(qrels).")
def test_evaluate_averages_over_every_judged_query(nb, rng):
    k = rng.choice([5, 20, 100])
    qrels, runs = {}, {}
    for q in range(rng.randint(5, 9)):
        ranked, relevant = _ranking_case(rng, min(k, 10))
        qrels[f"q{q}"], runs[f"q{q}"] = relevant, ranked
    del runs[rng.choice(sorted(runs))]  # a judged query the system did not answer scores 0
    runs["unjudged"] = list(next(iter(qrels.values())))  # ignored: no judgements
    edge = [f"m{rng.randrange(10**6)}-{i}" for i in range(12)]
    for rank in (10, 11):  # MRR@10 and nDCG@10 stop at rank 10, whatever k
        qrels[f"rank{rank}"], runs[f"rank{rank}"] = {edge[rank - 1]}, edge
    got = nb.evaluate(runs, qrels, k=k)
    want = {f"recall@{k}": metrics.mean_metric(metrics.recall_at_k, runs, qrels, k=k),
            "mrr@10": metrics.mean_metric(metrics.mrr, runs, qrels, k=10),
            "ndcg@10": metrics.mean_metric(metrics.ndcg_at_k, runs, qrels, k=10)}
    assert type(got) is dict and set(got) == set(want), (
        f"evaluate returned {sorted(got) if type(got) is dict else kind(got)}; expected the keys {sorted(want)}.")
    for name, value in want.items():
        assert _is_number(got[name]), f"evaluate's {name} is a {kind(got[name])}; return a float."
        assert math.isclose(float(got[name]), value, abs_tol=1e-9), (
            f"evaluate's {name} is {float(got[name]):.4f}; the mean over all {len(qrels)} judged queries (one without "
            f"a run counts as 0, an unjudged one is ignored) is {value:.4f}.")


# -- part 6: approximate search --------------------------------------------------------------

def _ivf_case(rng: random.Random) -> dict:
    """Vectors around more centres than there are lists: nprobe=1 misses neighbours, a few lists do not."""
    generator = _numpy(rng)
    n, d, nq = rng.randint(2500, 3500), rng.choice([16, 24]), 100
    centres = _unit_rows(generator, 100, d)

    def sample(count: int) -> np.ndarray:
        rows = centres[generator.integers(0, len(centres), count)]
        rows = rows + 0.9 * generator.standard_normal((count, d)).astype(np.float32) / math.sqrt(d)
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)

    vectors, queries = sample(n), sample(nq)
    ids = np.asarray(rng.sample(range(10**9, 2**40), n), dtype=np.int64)
    return {"vectors": vectors, "queries": queries, "ids": ids, "exact": ids[_top_rows(queries @ vectors.T, 10)],
            "nlist": rng.choice([32, 40, 48])}


def _top_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's k largest scores, best first."""
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def _local_copy(nb: Any, index: Any) -> Any:
    """The learner's index, serialised on its side and rebuilt here, where FAISS's counters are ours."""
    import faiss

    blob = nb.faiss.serialize_index(index)
    return faiss.deserialize_index(np.asarray(blob, dtype=np.uint8))


def _recall_and_work(index: Any, case: dict, nprobe: int) -> tuple[float, float]:
    """Recall@10 against exact search, and the share of exact search's distance computations
    done: the sizes of the lists each query probes, plus its distances to the nlist centroids.
    (Counted here, not read from FAISS's process-wide statistics, which another check grading
    in the same process, in another thread, would add to.)"""
    import faiss

    ivf = faiss.extract_index_ivf(index)
    ivf.nprobe = nprobe
    _, found = index.search(case["queries"], 10)
    _, probed = ivf.quantizer.search(case["queries"], nprobe)
    sizes = np.array([ivf.invlists.list_size(i) for i in range(ivf.nlist)])
    nq = len(case["queries"])
    work = (sizes[probed[probed >= 0]].sum() + nq * ivf.nlist) / (nq * index.ntotal)
    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, case["exact"], strict=False)]))
    return recall, work


def _build_ivf(nb: Any, case: dict) -> Any:
    try:
        return nb.build_ivf_index(case["vectors"], case["ids"], case["nlist"])
    except LearnerRaised as error:
        unanswered(error)
        if "is_trained" in error.message:
            fail("build_ivf_index added vectors to an untrained IVF index (FAISS refuses: 'is_trained' failed): "
                  "call index.train(vectors) before index.add_with_ids(...).")
        raise


@part("rf-approximate", hint="quantizer = faiss.IndexFlatIP(d); faiss.IndexIVFFlat(quantizer, d, nlist, "
      "faiss.METRIC_INNER_PRODUCT); index.train(vectors); index.add_with_ids(vectors, ids).")
def test_ivf_index_is_trained_and_holds_the_ids(nb, rng):
    import faiss

    case = _ivf_case(rng)
    local = _local_copy(nb, _build_ivf(nb, case))
    try:
        ivf = faiss.extract_index_ivf(local)
    except RuntimeError:
        fail(f"build_ivf_index returned a {type(local).__name__}, not an IVF index (faiss.IndexIVFFlat).")
    assert ivf.is_trained, "build_ivf_index's index is not trained: call index.train(vectors) before adding."
    assert ivf.nlist == case["nlist"], f"build_ivf_index made {ivf.nlist} lists; nlist={case['nlist']} was asked for."
    assert local.metric_type == faiss.METRIC_INNER_PRODUCT, (
        "build_ivf_index's index measures L2 distance; pass faiss.METRIC_INNER_PRODUCT (and an IndexFlatIP quantizer) "
        "so that it ranks unit vectors by cosine similarity.")
    assert local.ntotal == len(case["ids"]), (
        f"build_ivf_index's index holds {local.ntotal} of {len(case['ids'])} vectors.")
    ivf.nprobe = ivf.nlist  # every list: exact search, so the ids must match the exact neighbours
    _, found = local.search(case["queries"][:20], 10)
    assert np.array_equal(found, case["exact"][:20]), (
        "Searching every list of build_ivf_index's index does not find the exact neighbours under their ids: were "
        "the vectors added with add_with_ids(vectors, ids)?")


@part("rf-approximate", weight=2, hint="Search with nprobe = 1, 2, ... (or bisect: recall grows with nprobe) and "
      "keep the first whose mean recall@k against exact_ids reaches target; set index.nprobe to it.")
def test_nprobe_is_the_smallest_reaching_the_target(nb, rng):
    case = _ivf_case(rng)
    index = _build_ivf(nb, case)
    local = _local_copy(nb, index)  # one copy: tuning changes the index's nprobe only, which is read remotely
    at_one, _ = _recall_and_work(local, case, 1)  # reached exactly at nprobe=1
    for target in (0.95, round(rng.uniform(0.6, 0.85), 2), at_one):
        got = nb.tune_nprobe(index, case["queries"], case["exact"], k=10, target=target)
        assert type(got) is int or isinstance(got, np.integer), f"tune_nprobe returned a {kind(got)}; return an int."
        held = index.ntotal
        assert held == local.ntotal, (
            f"After tune_nprobe the index holds {held} vectors instead of {local.ntotal}: tuning must only "
            "search (and set nprobe), never add, remove or rebuild.")
        kept = nb.faiss.extract_index_ivf(index).nprobe
        assert kept == got, f"tune_nprobe returned nprobe={got} but left nprobe={kept} on the index; set it."
        recall, work = _recall_and_work(local, case, int(got))
        assert recall >= target, (
            f"At the nprobe={got} tune_nprobe chose, recall@10 against exact search is {recall:.3f}, below the target "
            f"{target:g}" + (": nprobe=1 searches one list and misses the neighbours in the others." if got == 1 else
                           ". Measure recall on the queries for each nprobe you try."))
        if got > 1:
            below, _ = _recall_and_work(local, case, int(got) - 1)
            assert below < target, (
                f"tune_nprobe chose nprobe={got}, but nprobe={got - 1} already reaches recall@10 {below:.3f} >= "
                f"{target:g}: it searches more lists than needed; return the smallest nprobe (from 1; a recall "
                "equal to the target reaches it).")
        assert work < 0.6, (
            f"At nprobe={got} the index computes {work:.0%} of exact search's distances: no saving.")


# -- part 7: a grounded answer ---------------------------------------------------------------

def _format_passage(doc_id: str, text: str) -> str:
    return f"[{doc_id}] {text}"


def _grounded_case(rng: random.Random) -> dict:
    """A SciFact claim with a relevant abstract among shuffled others, as search hits with chunk texts."""
    docs, claims, qrels = _scifact()
    claim_id = rng.choice(sorted(qrels))
    relevant = sorted(qrels[claim_id])[0]
    others = [d for d, _ in _sample_docs(rng, 8) if d not in qrels[claim_id]][: rng.randint(4, 6)]
    order = others[:]
    order.insert(rng.randint(0, 1), relevant)
    ids = rng.sample(range(10**6), len(order))
    chunks = {}
    for chunk_id, doc_id in zip(ids, order, strict=False):
        words = docs[doc_id].split()
        chunks[chunk_id] = {"doc_id": doc_id, "start": 0, "end": 0,
                            "text": " ".join(words[: rng.randint(25, 70)])}
    hits = [{"id": i, "doc_id": d, "score": round(0.9 - 0.05 * r, 3)}
            for r, (i, d) in enumerate(zip(ids, order, strict=True))]
    sizes = [_count_tokens(_format_passage(h["doc_id"], chunks[h["id"]]["text"])) for h in hits]
    return {"claim": claims[claim_id], "relevant": relevant, "hits": hits, "chunks": chunks, "sizes": sizes}


def _budget_for(rng: random.Random, sizes: list[int], fits: int, exact: bool) -> int:
    """A budget that holds exactly the first *fits* passages: to the token when *exact*, else with room
    left for a later, smaller passage (which must still not be sent: the context stops at the first misfit)."""
    used = sum(sizes[:fits])
    if exact:
        return used
    smaller = [size for size in sizes[fits + 1:] if size < sizes[fits]]
    return used + (max(smaller) if smaller else rng.randint(0, sizes[fits] - 1))


@part("rf-grounded", hint="Add passages in rank order while the running total of count_tokens(passage) stays "
      "<= token_budget; stop at the first that does not fit.")
def test_context_is_cut_at_the_budget_in_rank_order(nb, rng):
    case = _grounded_case(rng)
    hits, chunks, sizes = case["hits"], case["chunks"], case["sizes"]
    exact, roomy, short = rng.randint(2, len(hits) - 1), rng.randint(1, len(hits) - 1), rng.randint(1, len(hits) - 1)
    cases = [(exact, _budget_for(rng, sizes, exact, True)), (roomy, _budget_for(rng, sizes, roomy, False)),
             (short, sum(sizes[:short + 1]) - 1),  # one token short of the next passage
             (0, _budget_for(rng, sizes, 0, False))]
    for fits, budget in cases:
        got = nb.build_context(hits, chunks, budget)
        want = ([_format_passage(h["doc_id"], chunks[h["id"]]["text"]) for h in hits[:fits]],
                [h["doc_id"] for h in hits[:fits]])
        got = tuple(got) if type(got) in (tuple, list) else got
        assert type(got) is tuple and len(got) == 2 and all(type(x) in (list, tuple) for x in got), (
            f"build_context returned {kind(got)} {got!r:.80}; return (passages, doc_ids), two lists.")
        passages, doc_ids = list(got[0]), list(got[1])
        used = sum(_count_tokens(p) for p in passages)
        assert used <= budget, (
            f"build_context's passages take {used} tokens with token_budget={budget}: nothing past the budget may "
            "be sent.")
        assert (passages, doc_ids) == want, (
            f"With token_budget={budget} and passages of {sizes} tokens in rank order, the context holds the first "
            f"{fits} (documents {want[1]}); build_context gave documents {doc_ids}. Keep the rank order and stop at "
            "the first passage that does not fit.")


@part("rf-grounded", weight=2, hint="Keep only the cited ids that are in doc_ids (the documents sent), in order "
      "of first appearance, once each.")
def test_answer_cites_only_documents_in_the_prompt(nb, stub, rng):
    case = _grounded_case(rng)
    hits, sizes = case["hits"], case["sizes"]
    fits = rng.randint(2, len(hits) - 2)
    budget = _budget_for(rng, sizes, fits, rng.random() < 0.5)
    sent_docs, unsent = [h["doc_id"] for h in hits[:fits]], hits[fits]["doc_id"]
    invented = str(rng.randrange(10**7, 10**8))
    cited = [case["relevant"], unsent, invented, case["relevant"], sent_docs[-1]]
    reply = (f"The passages support the claim [{cited[0]}], as does [{cited[1]}] and [{cited[2]}]; "
             f"see also [{cited[3]}] and [{cited[4]}].")
    stub.add_rule({"when": {}, "reply": {"content": reply}})
    got = nb.answer_claim(_client(), case["claim"], hits, case["chunks"], token_budget=budget, model=CHAT_MODEL)
    requests = [r for r in stub.requests if r.path == CHAT_PATH]
    assert len(requests) == 1, f"answer_claim made {len(requests)} chat requests; make one."
    prompt = "\n".join(str(m.get("content")) for m in requests[0].body.get("messages", []) if isinstance(m, dict))
    past = [h["doc_id"] for h in hits[fits:] if case["chunks"][h["id"]]["text"] in prompt]
    assert not past, (
        f"The prompt holds passages past the token budget ({budget} tokens; documents {past}): nothing past the "
        "budget may be sent.")
    missing = [h["doc_id"] for h in hits[:fits] if _format_passage(h["doc_id"], case["chunks"][h["id"]]["text"])
               not in prompt]
    assert not missing, f"The prompt lacks the passages of documents {missing}, which fit the budget."
    assert case["claim"] in prompt, "The prompt does not contain the claim."
    assert type(got) is dict and {"answer", "citations", "context_doc_ids"} <= set(got), (
        f"answer_claim returned {sorted(got) if type(got) is dict else kind(got)}; return a dict with answer, "
        "citations and context_doc_ids.")
    assert got["answer"] == reply, "answer_claim's answer is not the model's text."
    assert type(got["citations"]) in (list, tuple) and type(got["context_doc_ids"]) in (list, tuple), (
        "answer_claim's citations and context_doc_ids must be lists.")
    assert list(got["context_doc_ids"]) == sent_docs, (
        f"context_doc_ids is {got['context_doc_ids']}; the documents sent were {sent_docs}.")
    want = list(dict.fromkeys(c for c in cited if c in sent_docs))
    citations = list(got["citations"])
    wrong = [c for c in citations if c not in sent_docs]
    assert not wrong, (
        f"answer_claim returned citations of documents that were not in the prompt: {wrong} (one was retrieved but "
        "cut by the budget, one the model invented). Keep only the documents that were sent.")
    assert citations == want, (
        f"answer_claim's citations are {citations}; the answer cites {want} from the prompt (in order of first "
        "appearance, each once).")
    stub.reset()
    stub.add_rule({"when": {}, "reply": {"content": ""}})
    got = nb.answer_claim(_client(), case["claim"], hits, case["chunks"], token_budget=budget, model=CHAT_MODEL)
    assert type(got) is dict and got.get("answer") == "" and list(got.get("citations") or []) == [], (
        f"For an empty reply answer_claim returned {got!r:.200}; the answer is the model's text as it is (''), "
        "which cites nothing.")
