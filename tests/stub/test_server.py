"""The loopback server: concurrency, in-flight counting, env wiring, fast start and stop, the CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2
import openai
import pytest

from grader.stub import StubLLM
from tests.stub.conftest import user

MODEL = "gpt-4o-mini"


def test_concurrent_requests_overlap_and_are_counted(stub: StubLLM, http_client: httpx2.Client) -> None:
    # A delay long enough that all twelve overlap even on a loaded machine.
    stub.set_fault_rate(1.0, kinds=[{"kind": "delay", "seconds": 1.0}])
    with stub.serve() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-test", http_client=http_client, max_retries=0)
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=12) as pool:
            replies = list(
                pool.map(lambda i: client.chat.completions.create(model=MODEL, messages=user(f"q{i}")), range(12))
            )
        elapsed = time.monotonic() - started
    assert len(replies) == 12 and all(r.choices for r in replies)
    assert elapsed < 6.0  # twelve 1 s delays served side by side, not one after another (12 s)
    assert stub.max_in_flight == 12


@pytest.mark.anyio
async def test_async_in_process_delays_do_not_block(stub: StubLLM) -> None:
    stub.set_fault_rate(1.0, kinds=[{"kind": "delay", "seconds": 0.1}])
    client = stub.async_client(max_retries=0)
    started = time.monotonic()
    await asyncio.gather(*(client.chat.completions.create(model=MODEL, messages=user(str(i))) for i in range(20)))
    assert time.monotonic() - started < 0.6
    assert stub.max_in_flight == 20


def test_set_env_points_default_client_at_server(stub: StubLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-do-not-use")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with stub.serve(set_env=True) as server:
        assert os.environ["OPENAI_BASE_URL"] == server.base_url
        assert openai.OpenAI().models.retrieve("gpt-4.1-mini").id == "gpt-4.1-mini"
    assert os.environ["OPENAI_API_KEY"] == "sk-real-do-not-use"
    assert "OPENAI_BASE_URL" not in os.environ


def test_starts_and_stops_fast(stub: StubLLM) -> None:
    starts, stops = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        server = stub.serve()
        t1 = time.perf_counter()
        server.close()
        starts.append(t1 - t0)
        stops.append(time.perf_counter() - t1)
    assert sorted(starts)[2] < 0.05
    assert sorted(stops)[2] < 0.05
    assert server.base_url.startswith("http://127.0.0.1:")


def test_close_interrupts_a_pending_timeout_fault(stub: StubLLM, http_client: httpx2.Client) -> None:
    stub.queue_fault("timeout")  # 600 s unless interrupted
    server = stub.serve()
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-test", http_client=http_client, max_retries=0)
    errors: list[Exception] = []

    def call() -> None:
        try:
            client.chat.completions.create(model=MODEL, messages=user("hi"), timeout=30)
        except openai.APIError as error:
            errors.append(error)

    worker = threading.Thread(target=call)
    worker.start()
    while not stub.requests:
        time.sleep(0.005)
    started = time.monotonic()
    server.close()
    worker.join(timeout=5)
    assert time.monotonic() - started < 0.5
    assert [type(e) for e in errors] == [openai.APIConnectionError]


def test_reset_interrupts_in_process_waits(stub: StubLLM) -> None:
    stub.queue_fault("delay", seconds=30)
    client = stub.client(max_retries=0)
    worker = threading.Thread(target=lambda: client.chat.completions.create(model=MODEL, messages=user("hi")))
    worker.start()
    while not stub.requests:
        time.sleep(0.005)
    stub.reset()
    worker.join(timeout=2)
    assert not worker.is_alive()
    assert stub.requests == []


def test_cli_serve_prints_base_url_and_stops_on_sigterm(tmp_path) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text('{"rules": [{"when": {"user_contains": "ping"}, "reply": {"content": "pong"}}]}')
    command = [sys.executable, "-m", "grader.cli", "stub", "serve", "--port", "0", "--api-key", "sk-cli"]
    process = subprocess.Popen([*command, "--scenario", str(scenario)], stdout=subprocess.PIPE, text=True)
    try:
        base_url = (process.stdout.readline() if process.stdout else "").strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        client = openai.OpenAI(base_url=base_url, api_key="sk-cli", max_retries=0)
        assert client.chat.completions.create(model=MODEL, messages=user("ping")).choices[0].message.content == "pong"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0


@pytest.mark.parametrize(("content", "expected"), [(None, "No such file"), ("{not json", "bad scenario")])
def test_cli_serve_rejects_a_bad_scenario_file_in_one_line(tmp_path, content, expected) -> None:
    scenario = tmp_path / "scenario.json"
    if content is not None:
        scenario.write_text(content)
    run = subprocess.run([sys.executable, "-m", "grader", "stub", "serve", "--scenario", str(scenario)],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2
    assert expected in run.stderr and "Traceback" not in run.stderr
