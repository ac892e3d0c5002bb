"""Pay the openai SDK's first-use costs once, in the zygote, instead of in every child.

The SDK does a lot lazily: it imports resource modules when first touched, builds a TLS
context per client, and on the first request of each kind it walks the request's
TypedDicts, completes pydantic models and fills its type caches (about 50 ms for the first
chat completion against 2-3 ms for the next). A forked child inherits whatever the zygote
did, so the zygote rehearses the calls exercises make, against an in-memory transport:
nothing leaves the process, and nothing but the SDK's own caches is kept.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from typing import Any

_COMPLETION = {
    "id": "chatcmpl-warm-up", "object": "chat.completion", "created": 0, "model": "warm-up",
    "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                 "message": {"role": "assistant", "content": "{}", "refusal": None, "tool_calls": [
                     {"id": "call_0", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}
_EMBEDDINGS = {"object": "list", "model": "warm-up", "usage": {"prompt_tokens": 1, "total_tokens": 1},
               "data": [{"object": "embedding", "index": 0, "embedding": [0.0, 1.0]}]}
_TOOL = {"type": "function", "function": {"name": "f", "description": "d", "parameters": {
    "type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}}}


def warm_openai() -> None:
    """Import, configure and exercise the SDK, if it is installed. Best effort: should a new
    SDK version refuse a rehearsed call, children pay the first-use costs themselves (the
    tests run :func:`rehearse` on the installed version, so that shows there)."""
    openai = sys.modules.get("openai")
    if openai is None:
        return
    _share_tls_context()
    with contextlib.suppress(Exception):
        rehearse(openai)
    openai.OpenAI(api_key="warm-up", base_url="http://127.0.0.1:9/v1").close()  # builds the default pool


def rehearse(openai: Any) -> None:
    """Make each kind of call the exercises make against an in-memory API. Synchronously only: the
    async client's first request starts a thread, whose malloc arena a child would later give
    back under its memory limit (an async request shares the caches a sync one fills)."""
    import httpx2

    def answer(request: Any) -> Any:
        if request.url.path.endswith("/embeddings"):
            return httpx2.Response(200, json=_EMBEDDINGS)
        if request.headers.get("x-warm-up") == "error":
            return httpx2.Response(429, json={"error": {"message": "warm-up", "type": "rate_limit"}},
                                   headers={"retry-after": "0"})
        return httpx2.Response(200, json=_COMPLETION)

    options = {"api_key": "warm-up", "base_url": "http://warm-up.invalid/v1", "max_retries": 0}
    transport = httpx2.MockTransport(answer)
    with openai.OpenAI(**options, http_client=openai.DefaultHttpx2Client(transport=transport)) as client:
        _rehearse(client, openai)


def _share_tls_context() -> None:
    """Every SDK client builds a TLS context from the CA bundle (about 30 ms), even for the
    stub's plain-HTTP address; children share one built here. A context is meant to be
    shared, and a child's changes to it stay in that child."""
    try:
        import httpcore2  # the SDK's transport imports it lazily, on the first client
    except ImportError:
        return
    if hasattr(httpcore2, "default_ssl_context"):
        httpcore2.default_ssl_context = functools.cache(httpcore2.default_ssl_context)


def _chat_request() -> dict:
    return {"model": "warm-up", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
            "temperature": 0, "max_tokens": 8, "tools": [_TOOL], "tool_choice": "auto",
            "response_format": {"type": "json_object"}}


def _rehearse(client: Any, openai: Any) -> None:
    # Only what exercises call: every batch waits for this. (Touching ``client.responses`` too,
    # which no exercise uses, cost 0.09-0.24 s of it.)
    client.chat.completions.create(**_chat_request())
    client.embeddings.create(model="warm-up", input=["a", "b"])
    with contextlib.suppress(openai.RateLimitError):
        client.chat.completions.create(**_chat_request(), extra_headers={"x-warm-up": "error"})
