"""The conformance table of ``docs/stub.md``, and a pytest plugin that explains stub errors by it.

As a plugin (``-p stub_table`` with this folder on ``PYTHONPATH``, which is how
``test_openai_resource_tests.py`` runs openai-python's own resource tests against a stub), a test
that fails on an error the stub answered is reported as skipped when, and only when, a row of the
table explains that error; the skip reason names the row and quotes the error. Anything else (an
unexplained error, a response that does not parse) stays a failure.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

DOC = Path(os.environ.get("STUB_CONFORMANCE_DOC", Path(__file__).resolve().parents[3] / "docs" / "stub.md"))
STATUSES = ("modelled", "rejected as the real API does", "accepted and ignored", "not supported")
ENDPOINT_ROW = "(endpoint)"
_ENDPOINT = re.compile(r"`(GET|POST|DELETE) (/[^`]+)`")
_NAME = re.compile(r"`([a-z_]+)`")


@dataclass(frozen=True)
class Row:
    endpoints: tuple[tuple[str, str], ...]  # (method, path template)
    params: tuple[str, ...]  # parameter names, or (ENDPOINT_ROW,)
    status: str
    why: str

    def serves(self, method: str, path: str) -> bool:
        return any(m == method and _template(t).fullmatch(path) for m, t in self.endpoints)

    def title(self) -> str:
        where = ", ".join(f"{m} {t}" for m, t in self.endpoints)
        return f"{where} | {', '.join(self.params)} | {self.status}"


def _template(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(path)))


def rows(doc: Path = DOC) -> list[Row]:
    """The rows of the ``## Conformance table`` section; a malformed row raises ValueError."""
    text = doc.read_text(encoding="utf-8")
    section = text.split("## Conformance table", 1)[1].split("\n## ", 1)[0]
    found = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[2] not in STATUSES:
            raise ValueError(f"{doc}: malformed conformance row (4 cells, a known status): {line}")
        params = (ENDPOINT_ROW,) if cells[1] == ENDPOINT_ROW else tuple(_NAME.findall(cells[1]))
        found.append(Row(tuple(_ENDPOINT.findall(cells[0])), params, cells[2], cells[3]))
    return found


def row_for(method: str, path: str, param: str | None, table: list[Row]) -> Row | None:
    """The row about ``param`` of this endpoint (the endpoint's own row when ``param`` is None)."""
    wanted = param or ENDPOINT_ROW
    return next((r for r in table if r.serves(method, path) and wanted in r.params), None)


def _stub_error(exc: BaseException) -> Any:
    """The openai error in ``exc``'s chain, if any."""
    import openai

    while exc is not None:
        if isinstance(exc, (openai.APIStatusError, openai.APIResponseValidationError)):
            return exc
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return None


def _param(error: Any) -> str | None:
    """Which parameter (None: the endpoint itself) an API error is about."""
    import openai

    body = error.body if isinstance(error.body, dict) else {}
    if isinstance(error, openai.APIResponseValidationError):
        data = body.get("data") or [{}]
        return "encoding_format" if isinstance(data[0].get("embedding"), str) else "?"
    message, code = str(body.get("message") or error.message), body.get("code")
    if error.status_code == 404 and (message.startswith(("Invalid URL", "Response with id"))):
        return None
    if code == "model_not_found" or "must provide a model parameter" in message:
        return "model"
    param = body.get("param")
    return re.split(r"[.\[]", param)[0] if isinstance(param, str) and param else "?"


def explain(exc: BaseException, table: list[Row]) -> str | None:
    """The skip reason for a failure: the row that explains the stub's error, or None."""
    error = _stub_error(exc)
    if error is None:
        return None
    request = error.request
    row = row_for(request.method, request.url.path, _param(error), table)
    if row is None:
        return None
    return f"docs/stub.md conformance row [{row.title()}]: {type(error).__name__}: {error.message[:200]}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    outcome = yield
    report = outcome.get_result()
    if call.when != "call" or not report.failed or call.excinfo is None:
        return
    reason = explain(call.excinfo.value, rows())
    if reason is not None:
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {reason}")
