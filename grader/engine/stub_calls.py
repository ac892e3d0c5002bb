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
CHAT_PATH = "/v1/chat/completions"
REQUIRED = frozenset({"model", "messages"})  # without them the SDK refuses a call (TypeError) and sends nothing


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
        transport error (``timeout`` or ``disconnected``) a network would have produced.

        It goes to the stub's core directly, as the in-process transport would send it, without
        building HTTP objects for it: a retry check makes dozens of these.
        """
        from grader.stub.wire import StubRequest

        self.invocations += 1
        if not REQUIRED.issubset(self.request):
            # The SDK refuses such a call (TypeError) before sending anything; so does its replay
            # on the learner's side, so nothing may reach the stub here either.
            return {"transport_error": "not_sent"}
        timeout = float(self.client.get("timeout", DEFAULT_TIMEOUT))
        key = self.client.get("api_key", stub.api_key)
        content = json.dumps(self.request).encode()
        request = StubRequest.build("POST", CHAT_PATH, {
            "host": "stub.grader", "authorization": f"Bearer {key}", "content-type": "application/json",
            "content-length": str(len(content)), "x-stainless-read-timeout": str(timeout)}, content)
        with stub.track_in_flight(CHAT_PATH):
            response = stub.handle(request)
            stub.park()
        # The reply's delay is not waited out: the learner's clock moves instead.
        network = min(response.delay, timeout)
        if response.delay > timeout:
            return {"transport_error": "timeout", "network_seconds": network}
        if response.drop_connection:
            return {"transport_error": "disconnected"}
        body = b"".join(response.stream) if response.stream is not None else response.body
        headers = {"content-length": str(len(body)), **{k.lower(): v for k, v in response.headers.items()}}
        return {"status": response.status, "headers": [[k, v] for k, v in headers.items()],
                "body": body.decode("utf-8", "replace"), "network_seconds": network}
