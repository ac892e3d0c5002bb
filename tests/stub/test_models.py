"""``GET /v1/models``: the real ids the notebooks use; unknown ids are 404 as in the real API."""

from __future__ import annotations

import openai
import pytest


def test_lists_the_models_notebooks_use(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"gpt-4o-mini", "gpt-4.1-mini", "text-embedding-3-small", "text-embedding-3-large"} <= ids


def test_retrieve_and_unknown(client: openai.OpenAI) -> None:
    assert client.models.retrieve("text-embedding-3-small").owned_by == "system"
    with pytest.raises(openai.NotFoundError) as excinfo:
        client.models.retrieve("gpt-99")
    assert excinfo.value.code == "model_not_found"
