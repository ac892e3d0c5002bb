"""``POST /v1/embeddings`` through the real SDK: base64 (the SDK's default) and float, dimensions, limits."""

from __future__ import annotations

import numpy as np
import openai
import pytest

from grader.stub import StubLLM

MODEL = "text-embedding-3-small"


def test_sdk_default_base64_decodes_to_the_embedders_vectors(client: openai.OpenAI, stub: StubLLM) -> None:
    from grader.stub.embedder import embed

    texts = ["a cat sat", "stock markets fell"]
    result = client.embeddings.create(model=MODEL, input=texts)
    assert stub.requests[-1].body["encoding_format"] == "base64"  # what the SDK asks for by default
    assert [d.index for d in result.data] == [0, 1]
    got = np.array([d.embedding for d in result.data], dtype=np.float32)
    assert got.shape == (2, 1536)
    np.testing.assert_array_equal(got, embed(texts, dimensions=1536))
    assert result.model == MODEL
    assert result.usage.prompt_tokens == result.usage.total_tokens > 0


def test_float_encoding_matches_base64(client: openai.OpenAI) -> None:
    as_float = client.embeddings.create(model=MODEL, input="hello world", encoding_format="float")
    as_b64 = client.embeddings.create(model=MODEL, input=["hello world"])
    np.testing.assert_allclose(as_float.data[0].embedding, as_b64.data[0].embedding, rtol=1e-6)


def test_dimensions_and_unit_norm(client: openai.OpenAI) -> None:
    vector = np.array(client.embeddings.create(model=MODEL, input="x", dimensions=256).data[0].embedding)
    assert vector.shape == (256,)
    assert abs(np.linalg.norm(vector) - 1.0) < 1e-5
    large = client.embeddings.create(model="text-embedding-3-large", input="x").data[0].embedding
    assert len(large) == 3072


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"input": ["x"] * 2049}, openai.BadRequestError, "Too many inputs. The max number of inputs is 2048"),
        ({"input": ""}, openai.BadRequestError, "'$.input' is invalid"),
        ({"input": "x", "dimensions": 4096}, openai.BadRequestError, "Expected a value <= 1536"),
        ({"input": "x", "model": "text-embedding-ada-002", "dimensions": 8}, openai.BadRequestError, "dimensions"),
        ({"input": "x", "model": "gpt-4o-mini"}, openai.NotFoundError, "not an embedding model"),
    ],
)
def test_rejections(client: openai.OpenAI, kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error) as excinfo:
        client.embeddings.create(**{"model": MODEL, **kwargs})
    assert message in excinfo.value.message


def test_tokens_summed_over_a_request_are_limited_like_the_real_api(client: openai.OpenAI) -> None:
    """Each input is under the 8,192-token limit; together they pass the 300,000 tokens a request may carry."""
    texts = ["word " * 6400] * 38  # 8,000 tokens each, 304,000 in all
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.embeddings.create(model=MODEL, input=texts)
    assert excinfo.value.message.endswith("Requested 304000 tokens, max 300000 tokens per request")
    assert excinfo.value.code == "max_tokens_per_request"
    assert excinfo.value.body["type"] == "max_tokens_per_request"
    assert len(client.embeddings.create(model=MODEL, input=texts[:37], dimensions=8).data) == 37
