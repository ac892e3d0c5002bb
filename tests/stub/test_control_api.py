"""The control API over plain HTTP (no SDK), so any client can script the stub."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import openai
import pytest

from grader.stub import StubLLM
from tests.stub.conftest import user


@pytest.fixture
def control(stub: StubLLM, http_client: httpx2.Client) -> Iterator[tuple[httpx2.Client, str, openai.OpenAI]]:
    with stub.serve() as server:
        root = server.base_url.removesuffix("/v1")
        sdk = openai.OpenAI(base_url=server.base_url, api_key="sk-test", http_client=http_client, max_retries=0)
        yield http_client, root, sdk


def test_scenario_faults_log_and_reset(control) -> None:
    http, root, sdk = control
    rules = {"rules": [{"when": {"user_contains": "ping"}, "reply": {"content": "pong"}}]}
    assert http.post(f"{root}/_stub/scenario", json=rules).json() == {"rules": 1}
    queued = http.post(f"{root}/_stub/faults", json={"queue": [{"kind": "server_error", "status": 502, "count": 2}]})
    assert queued.json()["queued"] == [{"kind": "server_error", "path": None, "count": 2, "status": 502}]

    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            sdk.chat.completions.create(model="gpt-4o-mini", messages=user("ping"))
    assert sdk.chat.completions.create(model="gpt-4o-mini", messages=user("ping")).choices[0].message.content == "pong"

    log = http.get(f"{root}/_stub/requests").json()
    assert [r["status"] for r in log["requests"]] == [502, 502, 200]
    assert log["requests"][0]["body"]["messages"] == user("ping")
    assert log["requests"][0]["headers"]["authorization"] == "Bearer [redacted]"
    assert log["requests"][0]["retry_count"] == 0 and log["requests"][0]["read_timeout"] == 600.0
    assert log["max_in_flight"] == 1

    assert http.post(f"{root}/_stub/reset").json() == {"reset": True}
    assert http.get(f"{root}/_stub/requests").json()["requests"] == []
    assert sdk.chat.completions.create(model="gpt-4o-mini", messages=user("ping")).choices[0].message.content != "pong"


def test_single_fault_object_and_rate(control) -> None:
    http, root, sdk = control
    one = http.post(f"{root}/_stub/faults", json={"kind": "rate_limit", "retry_after_ms": 5, "path": "models"})
    assert one.json()["queued"][0]["path"] == "/v1/models"
    with pytest.raises(openai.RateLimitError):
        sdk.models.list()
    reply = http.post(f"{root}/_stub/faults", json={"rate": 1.0, "kinds": ["server_error"], "seed": 3})
    assert reply.status_code == 200
    with pytest.raises(openai.InternalServerError):
        sdk.models.list()


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/_stub/scenario", {"rules": [{"when": {"user_has": "x"}, "reply": {"content": "y"}}]}, "unknown 'when'"),
        ("/_stub/scenario", {"rules": [{"when": {}, "reply": {"text": "y"}}]}, "needs exactly one of"),
        ("/_stub/faults", {"kind": "lightning"}, "unknown fault kind"),
        ("/_stub/faults", {"rate": 2, "kinds": ["server_error"]}, "between 0 and 1"),
    ],
)
def test_bad_control_bodies_are_400_with_reason(control, path: str, body: dict, expected: str) -> None:
    http, root, _ = control
    reply = http.post(root + path, json=body)
    assert reply.status_code == 400
    assert expected in reply.json()["error"]["message"]


def test_control_calls_are_not_logged_nor_authenticated(control, stub: StubLLM) -> None:
    http, root, _ = control
    http.get(f"{root}/_stub/requests")
    assert stub.requests == []


def test_control_calls_are_not_api_traffic(control) -> None:
    http, root, _ = control
    http.post(f"{root}/_stub/reset")
    assert http.get(f"{root}/_stub/requests").json() == {"requests": [], "max_in_flight": 0}


def test_a_body_that_is_not_json_is_a_clear_400(control) -> None:
    http, root, _ = control
    reply = http.post(f"{root}/_stub/faults", content=b"kind=rate_limit")
    assert reply.status_code == 400
    assert "must be JSON" in reply.json()["error"]["message"]


def test_appending_rules_is_all_or_nothing(control) -> None:
    http, root, _ = control
    good = {"when": {"user_contains": "a"}, "reply": {"content": "A"}}
    assert http.post(f"{root}/_stub/scenario", json={"rules": [good]}).json() == {"rules": 1}
    bad = {"when": {"no_such_condition": "x"}, "reply": {"content": "B"}}
    reply = http.post(f"{root}/_stub/scenario", json={"rules": [good, bad], "append": True})
    assert reply.status_code == 400
    assert http.post(f"{root}/_stub/scenario", json={"rules": [], "append": True}).json() == {"rules": 1}


def test_a_stub_given_a_key_asks_for_it_on_the_control_api_too(http_client: httpx2.Client) -> None:
    """Any local process can reach a loopback port: with ``--api-key`` set, scripting faults into
    someone's stub (a hostile notebook graded without namespaces once did) needs the key."""
    keyed = StubLLM(api_key="sk-owner")
    with keyed.serve() as server:
        root = server.base_url.removesuffix("/v1")
        sdk = openai.OpenAI(base_url=server.base_url, api_key="sk-owner", http_client=http_client, max_retries=0)
        for headers in ({}, {"Authorization": "Bearer sk-someone-else"}):
            refused = http_client.post(f"{root}/_stub/faults", json={"rate": 1.0}, headers=headers)
            assert refused.status_code == 401, refused.text
        assert sdk.models.list().data, "the refused calls set no fault rate"
        allowed = http_client.post(f"{root}/_stub/faults", json={"kind": "server_error"},
                                   headers={"Authorization": "Bearer sk-owner"})
        assert allowed.status_code == 200
        with pytest.raises(openai.InternalServerError):
            sdk.models.list()
