"""``grader stub serve``: run the stub LLM on loopback until interrupted.

Only argparse is imported at registration; the server is imported when the command runs,
so ``grader --help`` stays fast.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    stub = subparsers.add_parser("stub", help="the offline OpenAI-compatible stub LLM")
    actions = stub.add_subparsers(dest="stub_command", metavar="ACTION", required=True)
    serve = actions.add_parser("serve", help="serve the stub over HTTP on loopback until Ctrl-C")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    serve.add_argument("--api-key", default=None, help="accept only this key, on the control API too "
                       "(default: any Bearer token, and an open control API)")
    serve.add_argument("--scenario", metavar="FILE.json", help='rules to load: a list, or {"rules": [...]}')
    serve.add_argument("--seed", type=int, default=0, help="seed for ids and random faults (default: 0)")
    serve.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """Print the base URL on the first stdout line (scripts read it), then serve until stopped."""
    import contextlib
    import json
    import signal
    import sys
    import threading

    from grader.stub import StubLLM
    from grader.stub.core import rule_list

    stub = StubLLM(api_key=args.api_key, seed=args.seed)
    if args.scenario:
        try:
            with open(args.scenario, encoding="utf-8") as handle:
                payload = json.load(handle)
            stub.load_scenario(rule_list(payload))
        except (OSError, KeyError, ValueError) as error:
            print(f"grader stub serve: bad scenario {args.scenario}: {error}", file=sys.stderr)
            return 2
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with stub.serve(host=args.host, port=args.port) as server:
        print(server.base_url, flush=True)
        key = args.api_key or "sk-stub"
        print(f"export OPENAI_BASE_URL={server.base_url} OPENAI_API_KEY={key}  # Ctrl-C to stop",
              file=sys.stderr, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stopped.wait()
    return 0
