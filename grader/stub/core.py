"""``StubLLM``: dispatch, authorisation, faults, recording; the pure core both ways in share.

``handle`` maps a :class:`StubRequest` to a :class:`StubResponse` without touching sockets or
sleeping: waits and dropped connections are described on the response and carried out by the
transport or the server, which also count requests in flight around the whole exchange.
"""

from __future__ import annotations

import functools
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from grader.stub import chat, embeddings, responses
from grader.stub.choices import generate_choices
from grader.stub.conversation import Generation, Prompt
from grader.stub.errors import APIError, bad_api_key, invalid, missing_api_key, unknown_url
from grader.stub.faults import CONTENT_KINDS, Fault, FaultPlan
from grader.stub.gate import ReplyGate, running
from grader.stub.models import list_models, lookup
from grader.stub.scenario import Scenario
from grader.stub.server import StubServer
from grader.stub.stored import ResponseStore
from grader.stub.wire import NETWORK_SECONDS, StubRequest, StubResponse, json_response, read_timeout, sse_response

if TYPE_CHECKING:
    import httpx2
    import openai

BASE_URL = "http://stub.local/v1"
"""Where in-process clients point: never resolved, the transport answers every request itself."""
REDACTED = "Bearer [redacted]"
_BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP "
    "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)"
)


@dataclass
class RecordedRequest:
    """One API request as a test sees it (the API key is never kept)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    arrived_at: float
    status: int | None = None  # None: the connection was dropped without a response
    fault: str | None = None  # the fault kind this request was given, if any

    @property
    def retry_count(self) -> int:
        """Which attempt this is, from the SDK's ``x-stainless-retry-count`` (0 = first try)."""
        try:
            return int(self.headers.get("x-stainless-retry-count", "0"))
        except ValueError:
            return 0

    @property
    def read_timeout(self) -> float | None:
        """The client's read timeout from ``x-stainless-read-timeout``; None when none was set."""
        value = self.headers.get("x-stainless-read-timeout")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "headers": self.headers,
            "body": self.body,
            "arrived_at": self.arrived_at,
            "status": self.status,
            "fault": self.fault,
            "retry_count": self.retry_count,
            "read_timeout": self.read_timeout,
        }


def rule_list(payload: Any) -> list:
    """The rules of a scenario file or ``POST /_stub/scenario`` body: a list, or ``{"rules": [...]}``."""
    rules = payload.get("rules") if isinstance(payload, dict) else payload
    if not isinstance(rules, list):
        raise ValueError('expected a list of rules, or {"rules": [...]}')
    return rules


class StubLLM:
    """An OpenAI-compatible fake LLM: deterministic, scriptable, fault-injecting, thread-safe."""

    def __init__(self, api_key: str | None = None, seed: int = 0, rules: Iterable[Any] = ()) -> None:
        self.api_key = api_key
        self.seed = seed
        self._lock = threading.Lock()
        self._scenario = Scenario(rules)
        self._faults = FaultPlan()
        self._log: list[RecordedRequest] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._ids = itertools.count(1)
        self._wake = threading.Event()
        self._stored = ResponseStore()
        self._gate: ReplyGate | None = None

    # -- scripting -----------------------------------------------------------------------------

    def add_rule(self, rule: Mapping[str, Any] | None = None, **fields: Any) -> None:
        """Append one rule: ``add_rule({"when": ..., "reply": ...})`` or ``add_rule(when=..., reply=...)``."""
        self.add_rules([dict(rule or {}, **fields)])

    def add_rules(self, rules: Iterable[Any]) -> None:
        """Append rules all at once: if one is invalid (ValueError), none is added."""
        new = Scenario(rules)
        with self._lock:
            self._scenario = self._scenario.extended(new.rules)

    def load_scenario(self, rules: Iterable[Any]) -> None:
        """Replace all rules (the shape ``POST /_stub/scenario`` takes); invalid rules raise ValueError."""
        scenario = Scenario(rules)
        with self._lock:
            self._scenario = scenario

    def queue_fault(self, kind: str, count: int = 1, *, path: str | None = None, **params: Any) -> None:
        """Give the next ``count`` applicable requests (optionally only to ``path``) this fault."""
        self._faults.queue(Fault.make(kind, path=path, **params), count)

    def set_fault_rate(
        self, rate: float, kinds: Iterable[str | Mapping[str, Any]] = ("server_error",), seed: int = 0
    ) -> None:
        """Fault a ``rate`` share of requests, drawn reproducibly from ``seed``.

        ``kinds`` are names or dicts with parameters, e.g. ``{"kind": "rate_limit", "retry_after_ms": 10}``.
        """
        faults = [Fault.make(k) if isinstance(k, str) else Fault.from_dict(k) for k in kinds]
        self._faults.set_rate(rate, faults, seed)

    def reset(self) -> None:
        """Back to a fresh stub (same key and seed): no rules, faults or log; pending waits end now."""
        self._faults.clear()
        self._stored.clear()
        with self._lock:
            self._scenario = Scenario()
            self._log.clear()
            self._max_in_flight = self._in_flight
            self._ids = itertools.count(1)
        self.interrupt_waits()

    # -- observing -----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the API requests received so far, oldest first (control calls excluded)."""
        with self._lock:
            return list(self._log)

    @property
    def max_in_flight(self) -> int:
        """The most requests that were being served at the same moment."""
        return self._max_in_flight

    @property
    def in_flight(self) -> int:
        """How many API requests are being served right now."""
        return self._in_flight

    @contextmanager
    def track_in_flight(self, path: str) -> Iterator[None]:
        """Count one API exchange as in flight; the ways in wrap each request, wait included, in this.

        Control calls (``/_stub/...``) are not API traffic and are not counted.
        """
        if path.startswith("/_stub/"):
            yield
            return
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    # -- waiting -------------------------------------------------------------------------------

    @contextmanager
    def holding_replies(self, settled: Callable[[], bool], order: str = "together") -> Iterator[ReplyGate]:
        """Hold every API reply until the client is *settled* (blocked waiting for replies, see
        ``grader.stub.gate``), then release them in *order*: instead of a fixed delay, so
        overlap is measured exactly and at the client's own speed."""
        gate = ReplyGate(settled, lambda: self._in_flight, order)
        with running(gate):
            self._gate = gate
            try:
                yield gate
            finally:
                self._gate = None

    @property
    def holding(self) -> bool:
        """Whether replies are being held at a gate now."""
        return self._gate is not None

    def park(self) -> None:
        """Called by every way in once a reply is ready: waits at the gate if one is up."""
        gate = self._gate
        if gate is not None:
            gate.park()

    @property
    def wake_event(self) -> threading.Event:
        """Set when pending waits must end (reset, server stop); replaced by a fresh one each time."""
        return self._wake

    def wait(self, seconds: float) -> bool:
        """Sleep for a response delay without blocking other requests; True if cut short."""
        return self._wake.wait(seconds)

    def interrupt_waits(self) -> None:
        """End every pending delay now, so stopping a server or a test never waits them out."""
        with self._lock:
            old, self._wake = self._wake, threading.Event()
        old.set()

    # -- the core --------------------------------------------------------------------------------

    def handle(self, request: StubRequest) -> StubResponse:
        """Answer one request as the real API would, faults and scenario applied; records it."""
        if request.path.startswith("/_stub/"):
            return self._control(request)
        body: Any = None
        parse_error = False
        if request.body:
            try:
                body = json.loads(request.body)
            except ValueError:
                parse_error = True
        headers = {k: (REDACTED if k in ("authorization", "api-key") else v) for k, v in request.headers.items()}
        record = RecordedRequest(request.method, request.path, headers, body, time.monotonic())
        with self._lock:
            self._log.append(record)
            request_id = next(self._ids)
        response, fault = self._answer(request, body, parse_error, record)
        response.delay = fault.delay if fault is not None else 0.0
        if fault is not None and fault.virtual and response.delay < read_timeout(request.headers):
            response.headers[NETWORK_SECONDS] = repr(response.delay)
            response.delay = 0.0
        record.status = None if response.drop_connection else response.status
        response.headers.update({"x-request-id": f"req_{request_id:032x}", "openai-version": "2020-10-01"})
        return response

    def _answer(
        self, request: StubRequest, body: Any, parse_error: bool, record: RecordedRequest
    ) -> tuple[StubResponse, Fault | None]:
        """The response, and the fault it was given (whose delay the way in carries out)."""
        fault = None
        try:
            self._authorize(request.headers)
            route = self._route(request.method, request.path)
            fault = self._faults.take(request.path)
            if fault is not None:
                record.fault = fault.kind
                model = body.get("model", "") if isinstance(body, dict) else ""
                error = fault.error(str(model))
                if error is not None:
                    raise error
                if fault.kind == "drop_connection":
                    return StubResponse(status=0, drop_connection=True), fault
            if request.method == "POST" and (parse_error or not isinstance(body, dict)):
                raise invalid(_BAD_JSON)
            content_fault = fault if fault is not None and fault.kind in CONTENT_KINDS else None
            return route(request.path, body, content_fault), fault
        except APIError as error:
            return error.to_response(), fault

    def _authorize(self, headers: Mapping[str, str]) -> None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise missing_api_key()
        if self.api_key is not None and token != self.api_key:
            raise bad_api_key(token)

    def _route(self, method: str, path: str) -> Callable[[str, Any, Fault | None], StubResponse]:
        routes: dict[tuple[str, str], Callable[[str, Any, Fault | None], StubResponse]] = {
            ("POST", "/v1/chat/completions"): self._chat,
            ("POST", "/v1/responses"): self._responses,
            ("POST", "/v1/embeddings"): lambda _path, body, _fault: json_response(200, embeddings.create(body)),
            ("GET", "/v1/models"): lambda _path, _body, _fault: json_response(200, list_models()),
        }
        if method == "GET" and path.startswith("/v1/models/"):
            return self._model
        if path.startswith("/v1/responses/") and method in ("GET", "DELETE"):
            return self._stored_get if method == "GET" else self._stored_delete
        try:
            return routes[(method, path)]
        except KeyError:
            raise unknown_url(method, path) from None

    def _stored_get(self, path: str, _body: Any, _fault: Fault | None) -> StubResponse:
        """``GET /v1/responses/{id}`` and ``GET /v1/responses/{id}/input_items``."""
        rid, _, rest = path.removeprefix("/v1/responses/").partition("/")
        if rest not in ("", "input_items"):
            raise unknown_url("GET", path)
        return json_response(200, self._stored.input_items(rid) if rest else self._stored.retrieve(rid))

    def _stored_delete(self, path: str, _body: Any, _fault: Fault | None) -> StubResponse:
        rid = path.removeprefix("/v1/responses/")
        if "/" in rid:
            raise unknown_url("DELETE", path)
        return json_response(200, self._stored.delete(rid))

    def _model(self, path: str, _body: Any, _fault: Fault | None) -> StubResponse:
        return json_response(200, lookup(path.removeprefix("/v1/models/")).to_dict())

    def _generate(
        self, parse: Callable[[dict], tuple[Prompt, str]], body: dict, fault: Fault | None, n: int = 1
    ) -> tuple[Prompt, str, list[Generation]]:
        """Parse with the endpoint's own checks, then let the current scenario (or default) answer."""
        prompt, model = parse(body)
        with self._lock:
            scenario = self._scenario
        return prompt, model, generate_choices(prompt, scenario, fault, n)

    def _chat(self, _path: str, body: dict, fault: Fault | None) -> StubResponse:
        prompt, model, generations = self._generate(chat.parse_request, body, fault, body.get("n") or 1)
        completion_id = chat.completion_id(body, self.seed)
        top_logprobs = chat.logprobs_top(body)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = chat.chunks(completion_id, model, prompt, generations, include_usage, top_logprobs)
            return sse_response(events, done_marker=True)
        return json_response(200, chat.completion(completion_id, model, prompt, generations, top_logprobs))

    def _responses(self, _path: str, body: dict, fault: Fault | None) -> StubResponse:
        parse = functools.partial(responses.parse_request, history=self._stored.history)
        prompt, model, (generation,) = self._generate(parse, body, fault)
        response_id = responses.response_id(body, self.seed)
        if body.get("store") is not False:
            self._stored.save(responses.response(response_id, model, body, prompt, generation), body)
        if body.get("stream"):
            events = responses.events(response_id, model, body, prompt, generation)
            return sse_response(events, done_marker=False)
        return json_response(200, responses.response(response_id, model, body, prompt, generation))

    # -- control API -----------------------------------------------------------------------------

    def _control(self, request: StubRequest) -> StubResponse:
        """The control API; a stub given an API key asks for it here too, so another local
        process (a test's hostile notebook, another user) cannot script faults into it."""
        try:
            if self.api_key is not None:
                self._authorize(request.headers)
            try:
                payload = json.loads(request.body) if request.body else {}
            except ValueError as error:
                raise ValueError(f"the body of {request.path} must be JSON ({error}); see docs/stub.md") from None
            key = (request.method, request.path)
            if key == ("GET", "/_stub/requests"):
                log = [r.to_dict() for r in self.requests]
                return json_response(200, {"requests": log, "max_in_flight": self.max_in_flight})
            if key == ("POST", "/_stub/reset"):
                self.reset()
                return json_response(200, {"reset": True})
            if key == ("POST", "/_stub/scenario"):
                rules = rule_list(payload)
                if isinstance(payload, dict) and payload.get("append"):
                    self.add_rules(rules)
                else:
                    self.load_scenario(rules)
                with self._lock:
                    count = len(self._scenario.rules)
                return json_response(200, {"rules": count})
            if key == ("POST", "/_stub/faults"):
                return json_response(200, {"queued": self._control_faults(payload)})
        except (ValueError, TypeError) as error:
            return APIError(400, str(error), type="stub_control_error").to_response()
        except APIError as error:
            return error.to_response()
        return unknown_url(request.method, request.path).to_response()

    def _control_faults(self, payload: Any) -> list[dict]:
        if not isinstance(payload, dict):
            raise ValueError("expected a JSON object")
        queue = [payload] if "kind" in payload else payload.get("queue", [])
        for entry in queue:
            self._faults.queue(Fault.from_dict(entry), int(entry.get("count", 1)))
        if "rate" in payload:
            self.set_fault_rate(
                float(payload["rate"]), payload.get("kinds", ["server_error"]), int(payload.get("seed", 0))
            )
        return self._faults.pending()

    # -- ways in ---------------------------------------------------------------------------------

    def transport(self) -> httpx2.BaseTransport:
        """An httpx2 transport answering in-process: ``httpx2.Client(transport=stub.transport())``."""
        from grader.stub.transport import StubTransport

        return StubTransport(self)

    def async_transport(self) -> httpx2.AsyncBaseTransport:
        from grader.stub.transport import AsyncStubTransport

        return AsyncStubTransport(self)

    def client(self, **kwargs: Any) -> openai.OpenAI:
        """A real ``openai.OpenAI`` wired to the in-process transport (keyword arguments pass through)."""
        import httpx2
        import openai

        kwargs.setdefault("api_key", self.api_key or "sk-stub")
        kwargs.setdefault("base_url", BASE_URL)
        return openai.OpenAI(http_client=httpx2.Client(transport=self.transport()), **kwargs)

    def async_client(self, **kwargs: Any) -> openai.AsyncOpenAI:
        import httpx2
        import openai

        kwargs.setdefault("api_key", self.api_key or "sk-stub")
        kwargs.setdefault("base_url", BASE_URL)
        return openai.AsyncOpenAI(http_client=httpx2.AsyncClient(transport=self.async_transport()), **kwargs)

    def serve(self, host: str = "127.0.0.1", port: int = 0, set_env: bool = False) -> StubServer:
        """Start a threaded loopback HTTP server (already listening on return); use it as a context
        manager or call ``close()``. ``set_env`` points ``OPENAI_BASE_URL``/``OPENAI_API_KEY`` at it."""
        return StubServer(self, host, port, set_env=set_env)
