"""``POST /v1/embeddings``: request checks and the response, vectors from the shared local embedder."""

from __future__ import annotations

import base64
from typing import Any

from grader.stub import params
from grader.stub.conversation import count_tokens
from grader.stub.errors import APIError, invalid, missing, wrong_type
from grader.stub.validation import check_model, check_number, invalid_value

MAX_INPUTS = 2048
MAX_INPUT_TOKENS = 8192
MAX_REQUEST_TOKENS = 300_000  # summed over the inputs of one request
_BAD_INPUT = "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."


def _texts(value: Any) -> list[str]:
    """The inputs as strings; token-id arrays are accepted as the real API does (joined as text)."""
    if value is None:
        raise missing("input")
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise wrong_type("input", "one of a string or array", value)
    if value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        value = [value]
    texts = []
    for item in value:
        if isinstance(item, list) and item and all(isinstance(v, int) for v in item):
            item = " ".join(map(str, item))
        if not isinstance(item, str) or not item:
            raise invalid(_BAD_INPUT)
        texts.append(item)
    if not texts:
        raise invalid(_BAD_INPUT)
    if len(texts) > MAX_INPUTS:
        raise invalid(f"Too many inputs. The max number of inputs is {MAX_INPUTS}, got {len(texts)}.", param="input")
    return texts


def create(body: dict[str, Any]) -> dict:
    """An embeddings ``list`` for the request; base64 when asked (the SDK's default), else floats."""
    params.check_known("/v1/embeddings", body)
    info = check_model(body, "embedding", "v1/embeddings")
    texts = _texts(body.get("input"))
    for text in texts:
        tokens = count_tokens(text)
        if tokens > MAX_INPUT_TOKENS:
            raise invalid(
                f"This model's maximum context length is {MAX_INPUT_TOKENS} tokens, however you requested "
                f"{tokens} tokens ({tokens} in your prompt; 0 for the completion). Please reduce your "
                "prompt; or completion length."
            )
    total = sum(count_tokens(text) for text in texts)
    if total > MAX_REQUEST_TOKENS:
        raise APIError(400, f"Requested {total} tokens, max {MAX_REQUEST_TOKENS} tokens per request",
                       type="max_tokens_per_request", code="max_tokens_per_request")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise invalid_value(encoding, ("float", "base64"), "encoding_format")
    dimensions = body.get("dimensions")
    if dimensions is not None and info.id == "text-embedding-ada-002":
        raise invalid("This model does not support specifying dimensions.", param="dimensions")
    check_number(body, "dimensions", 1, info.dimensions, integer=True)

    from grader.stub.embedder import embed  # the shared embedder; numpy import kept off the CLI path
    from grader.stub.embedding_models import in_model_space

    vectors = in_model_space(embed(texts, dimensions=dimensions or info.dimensions), info.id)
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": (
                base64.b64encode(vector.astype("<f4").tobytes()).decode() if encoding == "base64" else vector.tolist()
            ),
        }
        for i, vector in enumerate(vectors)
    ]
    return {
        "object": "list",
        "data": data,
        "model": info.id,
        "usage": {"prompt_tokens": total, "total_tokens": total},
    }
