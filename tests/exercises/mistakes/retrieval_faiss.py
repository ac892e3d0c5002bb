"""The FAISS-retrieval exercise's common mistakes: see ``tests/exercises/mistakes/__init__.py``."""

from tests.exercises.mistakes import Mistake

MISTAKES = {
    'chunk_offsets_off_by_one': Mistake(
        cell='rf-chunking-code', part='rf-chunking', feedback='an off-by-one offset',
        find='start, end = words[first][0], words[last][1]',
        replace='start, end = words[first][0], words[last][1] + 1'),
    'overlap_drops_text': Mistake(
        cell='rf-chunking-code', part='rf-chunking', feedback='the overlap drops text',
        find='step = max_words - overlap',
        replace='step = max_words + overlap'),
    'oversize_chunks': Mistake(
        cell='rf-chunking-code', part='rf-chunking', feedback='an oversize chunk',
        find='last = min(first + max_words, len(words)) - 1',
        replace='last = min(first + max_words, len(words) - 1)'),
    'unnormalised_vectors': Mistake(
        cell='rf-embedding-code', part='rf-embedding', feedback='unnormalised vectors in an inner-product index',
        find='return np.ascontiguousarray(vectors / np.where(norms == 0, 1, norms))',
        replace='return np.ascontiguousarray(vectors)'),
    'float64_arrays': Mistake(
        cell='rf-embedding-code', part='rf-embedding', feedback='FAISS works on float32',
        find='vectors = np.array(vectors, dtype=np.float32)',
        replace='vectors = np.array(vectors, dtype=np.float64)'),
    'batches_over_the_token_limit': Mistake(
        cell='rf-embedding-code', part='rf-embedding', feedback='batches over the limit',
        find='if position - start == max_inputs or tokens + size > max_tokens:',
        replace='if position - start == max_inputs:'),
    're_embeds_everything_after_a_failure': Mistake(
        cell='rf-embedding-code', part='rf-embedding', feedback='re-embedded everything after one failed batch',
        find='    parts = []\n    for start, end in plan_batches(texts, max_inputs, max_tokens):\n        for attempt in range(1, max_attempts + 1):\n            try:\n                response = client.embeddings.create(model=model, input=list(texts[start:end]), **options)\n                break\n            except RETRYABLE:\n                if attempt == max_attempts:\n                    raise\n                time.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)))\n        rows = sorted(response.data, key=lambda item: item.index)\n        parts.append(np.array([item.embedding for item in rows], dtype=np.float32))\n',
        replace='    for attempt in range(1, max_attempts + 1):\n        try:\n            parts = []\n            for start, end in plan_batches(texts, max_inputs, max_tokens):\n                response = client.embeddings.create(model=model, input=list(texts[start:end]), **options)\n                rows = sorted(response.data, key=lambda item: item.index)\n                parts.append(np.array([item.embedding for item in rows], dtype=np.float32))\n            break\n        except RETRYABLE:\n            if attempt == max_attempts:\n                raise\n            time.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)))\n'),
    'ids_are_positions': Mistake(
        cell='rf-index-code', part='rf-index', feedback='the ids drift',
        find='        self.index = faiss.IndexIDMap(faiss.IndexFlatIP(dimensions))\n        self.chunks = {}\n        ### END SOLUTION\n\n    def add(self, vectors, chunks):\n        """Add vectors (one per chunk) under new consecutive ids after the largest in use; return the ids."""\n        ### BEGIN SOLUTION\n        first = max(self.chunks, default=-1) + 1\n        ids = np.arange(first, first + len(chunks), dtype=np.int64)\n        self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)\n',
        replace='        self.index = faiss.IndexFlatIP(dimensions)\n        self.chunks = {}\n        ### END SOLUTION\n\n    def add(self, vectors, chunks):\n        """Add vectors (one per chunk) under new consecutive ids after the largest in use; return the ids."""\n        ### BEGIN SOLUTION\n        first = max(self.chunks, default=-1) + 1\n        ids = np.arange(first, first + len(chunks), dtype=np.int64)\n        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))\n'),
    'ids_from_len_after_removal': Mistake(
        cell='rf-index-code', part='rf-index', feedback='already in use',
        find='first = max(self.chunks, default=-1) + 1',
        replace='first = len(self.chunks)'),
    'string_ids_after_reload': Mistake(
        cell='rf-index-code', part='rf-index', feedback='the ids drift after a reload',
        find='loaded.chunks = {int(chunk_id): chunk for chunk_id, chunk in chunks.items()}',
        replace='loaded.chunks = chunks'),
    'several_chunks_of_one_document': Mistake(
        cell='rf-search-code', part='rf-search', feedback='several chunks of one document fill the top-k',
        find='if one_per_doc and doc_id in seen:',
        replace='if False:'),
    'padding_ids_returned': Mistake(
        cell='rf-search-code', part='rf-search', feedback='padding',
        find='scores, ids = index.search(query, min(fetch, index.ntotal))\n        hits, seen = [], set()\n        for score, chunk_id in zip(scores[0], ids[0]):\n            if chunk_id < 0:\n                continue\n',
        replace='scores, ids = index.search(query, fetch)\n        hits, seen = [], set()\n        for score, chunk_id in zip(scores[0], ids[0]):\n'),
    'recall_divides_by_k': Mistake(
        cell='rf-evaluation-code', part='rf-evaluation', feedback='divides by k instead of the number of relevant',
        find='return len(set(ranked[:k]) & set(relevant)) / len(relevant)',
        replace='return len(set(ranked[:k]) & set(relevant)) / k'),
    'ndcg_without_the_ideal_ordering': Mistake(
        cell='rf-evaluation-code', part='rf-evaluation', feedback="nDCG without the ideal ordering's normalisation",
        find='return dcg / ideal if ideal else 0.0',
        replace='return dcg'),
    'ivf_untrained': Mistake(
        cell='rf-approximate-code', part='rf-approximate', feedback='untrained IVF index',
        find='    index.train(vectors)\n',
        replace=''),
    'nprobe_left_at_one': Mistake(
        cell='rf-approximate-code', part='rf-approximate', feedback='nprobe=1 searches one list',
        find='    index.nprobe = low\n    return low\n',
        replace='    index.nprobe = 1\n    return 1\n'),
    'citations_not_in_the_prompt': Mistake(
        cell='rf-grounded-code', part='rf-grounded', feedback='citations of documents that were not in the prompt',
        find='if doc_id in sent]',
        replace=']'),
    'passages_past_the_budget': Mistake(
        cell='rf-grounded-code', part='rf-grounded', feedback='nothing past the budget',
        find='        if used + size > token_budget:\n            break\n',
        replace='        if used > token_budget:\n            break\n'),
    'recall_without_relevant_divides_by_zero': Mistake(
        cell='rf-evaluation-code', part='rf-evaluation', feedback='With nothing relevant, every metric is 0.0',
        find='    if not relevant:\n        return 0.0\n    return len(',
        replace='    return len('),
    'nprobe_needs_recall_above_the_target': Mistake(
        cell='rf-approximate-code', part='rf-approximate', feedback='a recall equal to the target reaches it',
        find='if recall(middle) >= target:',
        replace='if recall(middle) > target:'),
}
