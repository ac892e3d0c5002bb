"""An OpenAI-compatible stub LLM the real ``openai`` SDK talks to, offline and deterministically.

See ``docs/stub.md``. ``StubLLM`` is the entry point; the server and transports are reached
through its ``serve()``, ``transport()`` and ``client()`` methods.
"""

from __future__ import annotations

from grader.stub.core import RecordedRequest, StubLLM
from grader.stub.wire import StubRequest, StubResponse

__all__ = ["RecordedRequest", "StubLLM", "StubRequest", "StubResponse"]
