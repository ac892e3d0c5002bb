"""Calls that run on the grading side, handed to learner code as callables.

``make("chat_call", request=..., client=...)`` used to build its zero-argument function
inside the learner's process, from a table learner code could replace (one that retried
by itself made a ``call_with_retry`` without a retry loop pass the retry checks). Now
the function the learner's code receives only asks the grader: each call is one message
over the channel, the grader makes exactly one request to the stub (in-process, with the
client's timeout enforced here against the reply's delay, which is not waited out in real
time but added to the learner's clock) and answers with the raw HTTP exchange, which the
learner's side turns into the SDK's own response or exception (see ``callbacks``). The
attempts a check counts are the requests this module made.
"""

from __future__ import annotations

import json
from typing import Any

DEFAULT_TIMEOUT = 10.0
CHAT_URL = "http://stub.grader/v1/chat/completions"


class ChatCall:
    """One chat completion per invocation, made by the grader against the stub."""

    kind = "chat_call"

    def __init__(self, request: dict, client: dict | None = None):
        client = dict(client or {})
        unknown = set(client) - {"max_retries", "timeout", "api_key"}
        if unknown:
            raise TypeError(f"chat_call client options {sorted(unknown)} are not supported")
        self.request, self.client = request, client
        self.invocations = 0

    def wire(self) -> dict:
        """What the learner's side needs to rebuild results: the request, as plain data."""
        return {"kind": self.kind, "request": self.request}

    def invoke(self, stub: Any) -> dict:
        """Make the request; returns the exchange as data: status, headers and body, or the
        transport error (``timeout`` or ``disconnected``) a network would have produced."""
        import httpx2

        from grader.stub.transport import StubTransport

        self.invocations += 1
        if not {"model", "messages"} <= set(self.request):
            # The SDK refuses such a call (TypeError) before sending anything; so does its replay
            # on the learner's side, so nothing may reach the stub here either.
            return {"transport_error": "not_sent"}
        timeout = float(self.client.get("timeout", DEFAULT_TIMEOUT))
        key = self.client.get("api_key", stub.api_key)
        request = httpx2.Request(
            "POST", CHAT_URL, content=json.dumps(self.request).encode(),
            headers={"authorization": f"Bearer {key}", "content-type": "application/json",
                     "x-stainless-read-timeout": str(timeout)},
            extensions={"timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}})
        network: list[float] = []  # the reply's delay is not waited out: the learner's clock moves instead

        def wait(seconds: float) -> bool:
            network.append(seconds)
            return False

        try:
            response = StubTransport(stub, wait=wait).handle_request(request)
            body = response.read()
        except httpx2.TimeoutException:
            return {"transport_error": "timeout", "network_seconds": sum(network)}
        except httpx2.TransportError:
            return {"transport_error": "disconnected"}
        return {"status": response.status_code, "headers": [[k, v] for k, v in response.headers.items()],
                "body": body.decode("utf-8", "replace"), "network_seconds": sum(network)}
