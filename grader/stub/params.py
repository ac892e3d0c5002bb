"""Which body parameters each endpoint accepts: the official OpenAPI spec's and the SDK's.

The real API answers 400 "Unrecognized request argument supplied: X" for any other body field,
so a misspelt ``max_token`` or ``temprature`` sent through ``extra_body`` fails offline as it
fails live. The names come from ``datasets/openai-openapi/openapi.json.gz`` (its request
schemas, ``allOf``/``anyOf``/``oneOf`` and ``$ref`` followed), compiled into ``spec_params.json``
so the stub never reads the 360 KB spec at run time (``python -m grader.stub.params`` rebuilds
it; a test keeps it in step), together with the installed SDK's own request types, which may
be newer than the spec: a parameter the SDK sends is never "unrecognized".
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from grader.stub.errors import APIError, invalid

SPEC = Path(__file__).resolve().parents[2] / "datasets" / "openai-openapi" / "openapi.json.gz"
COMPILED = Path(__file__).with_name("spec_params.json")
UNMODELLED = {
    "/v1/chat/completions": {
        "audio": "audio output",
        "web_search_options": "web search",
        "functions": "legacy function calling (use 'tools')",
        "function_call": "legacy function calling (use 'tool_choice')",
    },
    "/v1/responses": {
        "background": "background responses",
        "background_options": "background responses",
        "prompt": "stored prompt templates",
        "context_management": "server-side context compaction",
    },
}
"""Parameters the real API honours and the stub cannot: refused rather than ignored, so code
relying on them fails offline instead of passing on a reply that ignored them."""
REQUEST_SCHEMAS = {
    "/v1/chat/completions": "CreateChatCompletionRequest",
    "/v1/responses": "CreateResponse",
    "/v1/embeddings": "CreateEmbeddingRequest",
}


def from_spec(spec: Mapping[str, Any]) -> dict[str, list[str]]:
    """The body parameter names of each endpoint in ``REQUEST_SCHEMAS``, sorted."""
    schemas = spec["components"]["schemas"]

    def names(schema: Mapping[str, Any]) -> set[str]:
        if "$ref" in schema:
            return names(schemas[schema["$ref"].rsplit("/", 1)[-1]])
        found = set(schema.get("properties", {}))
        for key in ("allOf", "anyOf", "oneOf"):
            for part in schema.get(key, []):
                found |= names(part)
        return found

    return {path: sorted(names(schemas[name])) for path, name in REQUEST_SCHEMAS.items()}


def load_spec(path: Path = SPEC) -> dict[str, Any]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


@cache
def sdk_params() -> dict[str, frozenset[str]]:
    """The body parameters of the installed SDK's ``create`` request types, per endpoint.

    Importing them costs seconds on a loaded machine, so only a name the spec lacks asks.
    """
    from openai.types import embedding_create_params
    from openai.types.chat import completion_create_params
    from openai.types.responses import response_create_params

    types = {
        "/v1/chat/completions": completion_create_params.CompletionCreateParamsBase,
        "/v1/responses": response_create_params.ResponseCreateParamsBase,
        "/v1/embeddings": embedding_create_params.EmbeddingCreateParams,
    }
    return {path: frozenset(t.__required_keys__ | t.__optional_keys__) for path, t in types.items()}


@cache
def spec_params() -> dict[str, frozenset[str]]:
    """Endpoint path -> the body parameters the spec defines for it (from ``spec_params.json``)."""
    compiled = json.loads(COMPILED.read_text(encoding="utf-8"))
    return {path: frozenset(names) for path, names in compiled.items()}


def known(path: str) -> frozenset[str]:
    """The body parameters the spec or the installed SDK defines for the endpoint at ``path``."""
    return spec_params()[path] | sdk_params()[path]


def check_known(path: str, body: Mapping[str, Any]) -> None:
    """Reject body fields neither the spec nor the SDK defines for ``path``, in the real API's words."""
    unknown = [name for name in body if name not in spec_params()[path]]
    if unknown:
        unknown = [name for name in unknown if name not in sdk_params()[path]]
    if len(unknown) == 1:
        raise invalid(f"Unrecognized request argument supplied: {unknown[0]}")
    if unknown:
        raise invalid(f"Unrecognized request arguments supplied: {', '.join(unknown)}")


def reject_unmodelled(path: str, body: Mapping[str, Any]) -> None:
    """A 400 naming the stub's limit for a parameter in ``UNMODELLED`` that is set (audio output too)."""
    wanted = {name: what for name, what in UNMODELLED[path].items() if body.get(name) not in (None, False, [], {})}
    if "audio" in (body.get("modalities") or []):
        wanted["modalities"] = "audio output"
    for name, what in wanted.items():
        raise APIError(
            400,
            f"The stub LLM does not model '{name}' ({what}); see the conformance table in docs/stub.md.",
            param=name,
            code="unsupported_by_stub",
        )


def main() -> None:
    """Rebuild ``spec_params.json`` from the shipped spec."""
    COMPILED.write_text(json.dumps(from_spec(load_spec()), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {COMPILED}")


if __name__ == "__main__":
    main()
