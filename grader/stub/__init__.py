"""An OpenAI-compatible stub LLM the real ``openai`` SDK talks to, offline and deterministically.

See ``docs/stub.md``. ``StubLLM`` is the entry point; the server and transports are reached
through its ``serve()``, ``transport()`` and ``client()`` methods. Names are loaded on first
use so that registering ``grader stub`` on the command line stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.stub.core import RecordedRequest, StubLLM
    from grader.stub.server import StubServer
    from grader.stub.wire import StubRequest, StubResponse

_HOMES = {
    "RecordedRequest": "grader.stub.core",
    "StubLLM": "grader.stub.core",
    "StubServer": "grader.stub.server",
    "StubRequest": "grader.stub.wire",
    "StubResponse": "grader.stub.wire",
}
__all__ = ["RecordedRequest", "StubLLM", "StubRequest", "StubResponse", "StubServer"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
