"""Requests per second through the stub LLM with the real ``openai`` SDK, beside the SDK's own cost.

In one run, the same chat completion request is sent with the real SDK through:
  * a canned ``httpx2.MockTransport`` (no stub at all): the SDK's own per-call overhead,
  * the stub's in-process transport (``StubLLM.client()``),
  * the stub's loopback HTTP server (a real socket, one client),
  * the HTTP server with several client threads at once (throughput under concurrency),
and the pure core (``StubLLM.handle``) is timed alone. Each figure is the median of several runs.
The ratio "stub-added / SDK overhead" compares the time the stub adds per call (in-process minus
canned, paired run by run) with the SDK's own per-call time; the target is below 1.
Usage: python benchmarks/bench_stub.py [--calls N] [--runs R] [--threads T]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx2
import openai

from grader.stub import StubLLM, StubRequest

MESSAGES = [
    {"role": "system", "content": "Answer from the context and cite the passage."},
    {"role": "user", "content": "[1] The Eiffel Tower is in Paris.\n[2] It opened in 1889.\nQuestion: When?"},
]


CORE = "pure core (StubLLM.handle, no SDK)"
SDK = "SDK alone (canned MockTransport)"
IN_PROCESS = "SDK + stub, in-process transport"
HTTP = "SDK + stub, HTTP server, 1 client"


def _call(client: openai.OpenAI) -> None:
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


def interleaved(paths: dict[str, Callable[[], None]], calls: int, runs: int) -> dict[str, list[float]]:
    """Seconds per call for each path, one sample per run; the paths take turns within each run
    so that load from elsewhere on the machine falls on all of them alike."""
    for run in paths.values():  # warm-up: imports, caches, connection pool
        for _ in range(max(calls // 10, 5)):
            run()
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(runs):
        for name, run in paths.items():
            started = time.perf_counter()
            for _ in range(calls):
                run()
            samples[name].append((time.perf_counter() - started) / calls)
    return samples


def concurrent_per_call(client: openai.OpenAI, calls: int, runs: int, threads: int) -> float:
    """Median wall seconds per call with ``threads`` clients sending at once."""
    samples = []
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda _: _call(client), range(threads * 4)))  # warm the connection pool
        for _ in range(runs):
            started = time.perf_counter()
            list(pool.map(lambda _: _call(client), range(calls)))
            samples.append((time.perf_counter() - started) / calls)
    return statistics.median(samples)


def canned_client(stub: StubLLM) -> openai.OpenAI:
    """The SDK against a transport that returns pre-computed bytes: the SDK's cost and nothing else."""
    body = json.dumps({"model": "gpt-4o-mini", "messages": MESSAGES}).encode()
    reply = stub.handle(StubRequest.build("POST", "/v1/chat/completions", {"authorization": "Bearer x"}, body))
    content, headers = reply.body, dict(reply.headers)
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, headers=headers, content=content))
    return openai.OpenAI(
        api_key="sk-bench", base_url="http://canned.local/v1", http_client=httpx2.Client(transport=transport)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100, help="calls per run (default 100)")
    parser.add_argument("--runs", type=int, default=9, help="runs per figure; medians are reported (default 9)")
    parser.add_argument("--threads", type=int, default=8, help="client threads for the concurrent figure")
    args = parser.parse_args()

    stub = StubLLM()
    body = json.dumps({"model": "gpt-4o-mini", "messages": MESSAGES}).encode()
    request = StubRequest.build("POST", "/v1/chat/completions", {"authorization": "Bearer x"}, body)
    canned, in_process = canned_client(stub), stub.client()
    with stub.serve() as server, httpx2.Client() as http:
        over_http = openai.OpenAI(api_key="sk-bench", base_url=server.base_url, http_client=http)
        samples = interleaved(
            {
                CORE: lambda: stub.handle(request),
                SDK: lambda: _call(canned),
                IN_PROCESS: lambda: _call(in_process),
                HTTP: lambda: _call(over_http),
            },
            args.calls,
            args.runs,
        )
        threaded = f"SDK + stub, HTTP server, {args.threads} threads"
        samples[threaded] = [concurrent_per_call(over_http, args.calls, args.runs, args.threads)]

    print(f"{'path (median of ' + str(args.runs) + ' runs)':<44} {'req/s':>9} {'µs/call':>9}")
    for name, values in samples.items():
        seconds = statistics.median(values)
        print(f"{name:<44} {1 / seconds:>9,.0f} {seconds * 1e6:>9,.0f}")
    sdk = statistics.median(samples[SDK])
    for label, path in (("stub-added, in-process", IN_PROCESS), ("stub+loopback-added, HTTP", HTTP)):
        added = statistics.median(a - b for a, b in zip(samples[path], samples[SDK], strict=True))
        print(f"{label:<27} {added * 1e6:>7,.0f} µs/call = {added / sdk:.2f} × the SDK's own overhead")
    print(f"requests recorded: {len(stub.requests):,}; most in flight at once: {stub.max_in_flight}")


if __name__ == "__main__":
    main()
