"""Faults on demand: queued for the next N matching requests, or drawn at a seeded rate.

Transport faults (``rate_limit``, ``server_error``, ``timeout``/``delay``, ``drop_connection``)
hit any API request; content faults (``malformed_json``, ``schema_violation``, ``truncate``,
``refusal``) change what the model says, so they only go to endpoints that generate text.
A fault is spent on the request it is given to, even if that request is then rejected.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from grader.stub.errors import APIError

_PARAMS: dict[str, frozenset[str]] = {
    "rate_limit": frozenset({"retry_after", "retry_after_ms", "code"}),
    "server_error": frozenset({"status"}),
    "timeout": frozenset({"seconds"}),
    "delay": frozenset({"seconds", "virtual"}),
    "drop_connection": frozenset(),
    "malformed_json": frozenset(),
    "schema_violation": frozenset(),
    "truncate": frozenset(),
    "refusal": frozenset({"message"}),
}
KINDS = frozenset(_PARAMS)
CONTENT_KINDS = frozenset({"malformed_json", "schema_violation", "truncate", "refusal"})
GENERATING_PATHS = frozenset({"/v1/chat/completions", "/v1/responses"})
TIMEOUT_SECONDS = 600.0
"""A ``timeout`` fault's default delay: longer than any sane client timeout (and interruptible)."""

_SERVER_ERRORS = {
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The engine is currently overloaded, please try again later.",
}


@dataclass(frozen=True)
class Fault:
    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)
    path: str | None = None

    @classmethod
    def make(cls, kind: str, path: str | None = None, **params: Any) -> Fault:
        """A validated fault: unknown kinds, parameters or values fail here, not mid-test."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(KINDS)}")
        unknown = set(params) - _PARAMS[kind]
        if unknown:
            raise ValueError(f"fault {kind!r} takes {sorted(_PARAMS[kind]) or 'no parameters'}, not {sorted(unknown)}")
        if kind == "server_error" and params.get("status", 500) not in _SERVER_ERRORS:
            raise ValueError(f"server_error status must be one of {sorted(_SERVER_ERRORS)}")
        if kind == "rate_limit" and params.get("code", "rate_limit_exceeded") not in (
            "rate_limit_exceeded",
            "insufficient_quota",
        ):
            raise ValueError("rate_limit code must be 'rate_limit_exceeded' or 'insufficient_quota'")
        if kind == "delay" and "seconds" not in params:
            raise ValueError("a 'delay' fault needs seconds=")
        if path is not None and not path.startswith("/v1/"):
            path = "/v1/" + path.lstrip("/")
        return cls(kind=kind, params=dict(params), path=path)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        """The JSON shape of the control API: ``{"kind": ..., "path"?: ..., **params}``."""
        data = dict(data)
        data.pop("count", None)
        return cls.make(**data)

    def applies_to(self, path: str) -> bool:
        if self.path is not None and path != self.path:
            return False
        return self.kind not in CONTENT_KINDS or path in GENERATING_PATHS

    @property
    def virtual(self) -> bool:
        """A delay told to the client (``NETWORK_SECONDS``) rather than waited out, when shorter than
        its read timeout: for checks that let learner code time a slow model at no real cost."""
        return bool(self.params.get("virtual"))

    @property
    def delay(self) -> float:
        if self.kind in ("timeout", "delay"):
            return float(self.params.get("seconds", TIMEOUT_SECONDS))
        return 0.0

    def error(self, model: str) -> APIError | None:
        """The HTTP error this fault answers with, if it is an error fault."""
        if self.kind == "server_error":
            status = int(self.params.get("status", 500))
            return APIError(status, _SERVER_ERRORS[status], type="server_error")
        if self.kind != "rate_limit":
            return None
        headers = {"x-ratelimit-limit-requests": "3", "x-ratelimit-remaining-requests": "0"}
        wait = "20s"
        if "retry_after" in self.params:
            headers["retry-after"] = str(self.params["retry_after"])
            wait = f"{self.params['retry_after']}s"
        if "retry_after_ms" in self.params:
            headers["retry-after-ms"] = str(self.params["retry_after_ms"])
            wait = f"{self.params['retry_after_ms']}ms"
        headers["x-ratelimit-reset-requests"] = wait
        if self.params.get("code") == "insufficient_quota":
            return APIError(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                type="insufficient_quota",
                code="insufficient_quota",
                headers=headers,
            )
        return APIError(
            429,
            f"Rate limit reached for {model or 'requests'} in organization org-stub on requests per min "
            f"(RPM): Limit 3, Used 3, Requested 1. Please try again in {wait}.",
            type="requests",
            code="rate_limit_exceeded",
            headers=headers,
        )


class FaultPlan:
    """Queued and random faults, safe to consult from many threads at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[list[Any]] = []  # [fault, remaining uses]
        self._rate = 0.0
        self._rate_faults: tuple[Fault, ...] = ()
        self._rng = random.Random(0)

    def queue(self, fault: Fault, count: int = 1) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._queue.append([fault, count])

    def set_rate(self, rate: float, faults: Iterable[Fault], seed: int = 0) -> None:
        faults = tuple(faults)
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if rate and not faults:
            raise ValueError("a fault rate needs at least one kind")
        with self._lock:
            self._rate, self._rate_faults, self._rng = rate, faults, random.Random(seed)

    def take(self, path: str) -> Fault | None:
        """The fault for this request: the oldest applicable queued one, else a seeded random draw."""
        with self._lock:
            for entry in self._queue:
                fault = entry[0]
                if fault.applies_to(path):
                    entry[1] -= 1
                    if entry[1] == 0:
                        self._queue.remove(entry)
                    return fault
            candidates = [f for f in self._rate_faults if f.applies_to(path)]
            if self._rate and candidates and self._rng.random() < self._rate:
                return self._rng.choice(candidates)
            return None

    def pending(self) -> list[dict]:
        with self._lock:
            return [{"kind": f.kind, "path": f.path, "count": n, **f.params} for f, n in self._queue]

    def clear(self) -> None:
        self.set_rate(0.0, ())
        with self._lock:
            self._queue.clear()
