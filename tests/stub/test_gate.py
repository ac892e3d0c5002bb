"""Holding replies until the client is settled: exact overlap, a fixed answer order, no fixed waits."""

import asyncio
import os
import sys
import threading

import httpx2
import openai
import pytest

from grader.engine.quiescence import settled_probe
from grader.stub import StubLLM

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="settles from /proc (Linux only)")


async def ask_all(client, prompts, limit: int | None):
    """Answers in the order they arrive; at most *limit* requests at once (None: no bound)."""
    semaphore = asyncio.Semaphore(limit or len(prompts))
    arrived = []

    async def ask(prompt):
        async with semaphore:
            await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
        arrived.append(prompt)

    await asyncio.gather(*(ask(prompt) for prompt in prompts))
    return arrived


def run(stub, server, limit, order="together"):
    """*ask_all* in this process, as learner code runs in a Jupyter kernel beside the stub's threads
    (and, as there, beside threads that were running before: earlier tests left some)."""
    before = {int(task) for task in os.listdir("/proc/self/task")} - {threading.get_native_id()}
    settled = settled_probe(os.getpid(), server.waiting, lambda: len(stub.requests),
                            ignore=lambda: before | server.thread_ids(), children=False)
    prompts = [f"prompt {i}" for i in range(10)]

    async def main():
        async with openai.AsyncOpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0, timeout=30,
                                      http_client=httpx2.AsyncClient()) as client:
            return await ask_all(client, prompts, limit)

    with stub.holding_replies(settled, order=order) as gate:
        gate.max_hold = 60  # a hold that ran out would release everything at once: never here
        arrived = asyncio.run(main())
    return prompts, arrived, gate


@pytest.fixture
def served():
    stub = StubLLM(api_key="sk-test")
    with stub.serve() as server:
        yield stub, server


@pytest.mark.parametrize("limit", [1, 2, 3, None])
def test_the_peak_in_flight_is_exactly_what_the_client_allows(served, limit):
    stub, server = served
    _, _, gate = run(stub, server, limit)
    assert stub.max_in_flight == (limit or 10)
    assert gate.releases >= 10 // (limit or 10), "replies went out in rounds, as the client settled"


def test_oldest_last_answers_one_of_the_first_requests_last(served):
    """The first request parked waits for every other: one of the first batch (which one of them
    reached the stub first is up to the scheduler), so the answers never come back in order."""
    stub, server = served
    prompts, arrived, _ = run(stub, server, 3, order="oldest_last")
    assert arrived[-1] in prompts[:3] and sorted(arrived) == sorted(prompts)


def test_a_client_that_never_settles_is_released_after_max_hold(served):
    stub, server = served
    with stub.holding_replies(lambda: False) as gate:
        gate.max_hold = 0.2
        reply = openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0, timeout=5).chat \
            .completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content and gate.releases == 1


def test_the_gate_does_not_outlive_its_block(served):
    stub, server = served
    with stub.holding_replies(lambda: False):
        pass
    client = openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0, timeout=2)
    assert client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert not stub.holding
