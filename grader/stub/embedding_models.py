"""One vector space per embedding model name, over the stub's single lexical embedder.

The stub's embedder (``embedder.py``) is lexical: a weighted bag of words hashed into a dense
vector, so cos("car", "automobile") is 0 and no model name makes it semantic. So that code
which mixes models fails offline as it does live (vectors from different models are not
comparable), each model other than ``text-embedding-3-small`` gets a fixed signed permutation
of the dimensions: similarities within a model are unchanged, across models they are near 0.
``text-embedding-3-small`` is the identity, so its vectors are exactly ``embed()``'s.
"""

from __future__ import annotations

import hashlib
from functools import cache

import numpy as np

IDENTITY_MODEL = "text-embedding-3-small"


@cache
def _signed_permutation(model: str, dimensions: int) -> tuple[np.ndarray, np.ndarray]:
    """A permutation and signs derived from hashes alone (no RNG whose stream could change)."""
    keys = [hashlib.blake2b(f"{model}:{dimensions}:{i}".encode(), digest_size=8).digest() for i in range(dimensions)]
    order = np.argsort([int.from_bytes(k, "little") for k in keys], kind="stable")
    signs = np.array([1.0 if k[0] & 1 else -1.0 for k in keys], dtype=np.float32)
    return order, signs


def in_model_space(vectors: np.ndarray, model: str) -> np.ndarray:
    """``vectors`` (rows from ``embed()``) as ``model`` returns them."""
    if model == IDENTITY_MODEL:
        return vectors
    order, signs = _signed_permutation(model, vectors.shape[1])
    return (vectors[:, order] * signs).astype(np.float32)
