"""The conformance table in docs/stub.md covers every parameter, and the parameter list is the spec's."""

from __future__ import annotations

import json

import openai
import pytest

from grader.stub import StubLLM, params
from tests.stub.conformance.stub_table import ENDPOINT_ROW, Row, explain, row_for, rows


def test_the_compiled_parameter_list_is_the_shipped_specs() -> None:
    compiled = json.loads(params.COMPILED.read_text(encoding="utf-8"))
    assert compiled == params.from_spec(params.load_spec()), "run: python -m grader.stub.params"


@pytest.mark.parametrize("path", sorted(params.REQUEST_SCHEMAS))
def test_every_parameter_of_the_spec_and_the_sdk_has_a_row(path: str) -> None:
    table = rows()
    covered = {p for r in table if r.serves("POST", path) for p in r.params}
    assert not params.known(path) - covered, f"add rows to the conformance table in docs/stub.md for {path}"
    assert not covered - params.known(path), f"rows name parameters {path} does not have"


def test_each_parameter_has_one_row() -> None:
    seen: dict[tuple[str, str, str], Row] = {}
    for r in rows():
        for endpoint in r.endpoints:
            for p in r.params:
                assert (*endpoint, p) not in seen, f"{endpoint} {p} is in two rows"
                seen[(*endpoint, p)] = r


def test_unmodelled_parameters_are_marked_not_supported() -> None:
    table = rows()
    for path, names in params.UNMODELLED.items():
        for name in names:
            row = row_for("POST", path, name, table)
            assert row is not None and row.status == "not supported", (path, name)


def test_a_stub_error_is_explained_only_by_its_row(stub: StubLLM) -> None:
    table = rows()
    client = stub.client(max_retries=0)
    with pytest.raises(openai.NotFoundError) as model:
        client.chat.completions.create(model="gpt-6-astra", messages=[{"role": "user", "content": "hi"}])
    assert "POST /v1/chat/completions | model | modelled" in explain(model.value, table)
    with pytest.raises(openai.NotFoundError) as url:
        client.chat.completions.retrieve("chatcmpl-1")
    assert "(endpoint) | not supported" in explain(url.value, table)
    assert explain(ValueError("not an API error"), table) is None
    assert row_for("POST", "/v1/embeddings", ENDPOINT_ROW, table) is None
