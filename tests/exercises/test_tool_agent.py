"""The tool-agent exercise's world, task set, BFCL data and the stub's agent policy.

The generic tests grade the notebooks and the mistakes; these check what the exercise stands
on: a task set whose expected states follow the shop's policy, BFCL data as shipped, and a stub
policy that plays every task the same way whatever the system prompt, errs as documented and
recovers, so the solution's success rate is exactly the share of tasks the policy does not spoil.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import typing
from collections import Counter
from pathlib import Path

import pytest

from grader.agentdesk import bfcl
from grader.agentdesk.desk import CANCELLABLE, SupportDesk, run_actions
from grader.agentdesk.world import make_world
from grader.stub import StubLLM, agent_policy, chat
from tests.exercises.mistakes import ROOT, solution_path

KINDS = {"status", "cancel", "cancel_refused", "refund", "refund_refused", "policy"}


@pytest.fixture(scope="module")
def solution() -> dict:
    """The solution notebook's definitions, run in this process (no setup stub, no final demo)."""
    namespace: dict = {}
    exec("from grader.agentdesk import *\nMODEL = 'gpt-4o-mini'", namespace)
    notebook = json.loads(solution_path("tool_agent").read_text())
    for cell in notebook["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id", "")
        if cell["cell_type"] == "code" and (grade_id.endswith("-code") or grade_id == "agent-run-task"):
            exec("".join(cell["source"]), namespace)
    return namespace


def test_the_task_set_has_every_kind_and_follows_the_policy():
    world = make_world(1)
    tasks, data = world["tasks"], world["data"]
    assert len(tasks) >= 30 and len({t["id"] for t in tasks}) == len(tasks)
    assert set(Counter(t["kind"] for t in tasks)) == KINDS
    for task in tasks:
        for action in task["actions"]:
            order = data["orders"][action["arguments"]["order_id"]]
            if action["name"] == "cancel_order":
                assert order["status"] in CANCELLABLE, task
            else:
                assert order["status"] == "delivered", task
                assert 0 < action["arguments"]["amount"] <= order["total"] - order["refunded"] + 1e-9, task
        if task["kind"].endswith("_refused"):
            assert task["actions"] == [] and task["outputs"] == [], task
    assert make_world(1) == world, "the same seed must give the same world"
    assert make_world(2)["tasks"] != tasks


def test_run_actions_leaves_the_original_data_alone():
    world = make_world(3)
    before = json.dumps(world["data"], sort_keys=True)
    task = next(t for t in world["tasks"] if t["kind"] == "refund")
    state = run_actions(world["data"], task["actions"])
    assert json.dumps(world["data"], sort_keys=True) == before
    assert state["refunds"][0]["refund_id"] == "RF-0001" and state != SupportDesk(world["data"]).snapshot()


def test_bfcl_files_are_the_ones_source_md_names():
    source = (ROOT / "datasets" / "bfcl" / "SOURCE.md").read_text()
    for path in (Path("BFCL_v4_simple_python.json"), Path("possible_answer/BFCL_v4_simple_python.json")):
        digest = hashlib.sha256((ROOT / "datasets" / "bfcl" / path).read_bytes()).hexdigest()
        assert digest in source, path
    assert "Apache License" in (ROOT / "datasets" / "bfcl" / "LICENSE").read_text()
    assert len(bfcl.items()) == 400


def test_function_from_doc_writes_the_documented_signature():
    supported = [item["doc"] for item in bfcl.items() if bfcl.supported(item["doc"])]
    assert len(supported) > 350
    for doc in supported:
        function = bfcl.function_from_doc(doc)
        params = inspect.signature(function).parameters
        required = set(doc["parameters"].get("required", []))
        assert set(params) == set(doc["parameters"].get("properties", {}))
        assert {name for name, p in params.items() if p.default is inspect.Parameter.empty} == required
        hints = typing.get_type_hints(function)
        assert set(hints) == set(params)


def test_a_type_list_is_a_union():
    """What ``make("annotation")`` builds for the checks: BFCL's type names, a list of them a union."""
    assert bfcl.annotation({"type": ["integer", "string"]}) == int | str
    assert bfcl.annotation({"type": ["boolean", "float", "null"]}) == bool | float | None
    assert bfcl.annotation({"type": ["string"]}) is str
    for unmapped in ([], ["integer", "dict"], ["number"], "int | str"):
        assert bfcl.annotation({"type": unmapped}) is None, unmapped


def test_the_policy_plays_only_support_desk_conversations(solution):
    desk_tools = [solution["function_schema"](f) for f in SupportDesk(make_world(0)["data"]).tools().values()]
    request = "Where is my order ORD-12345? ana@example.com"

    def decide(tools: list, text: str = request):
        body = {"model": "gpt-4o-mini", "tools": tools, "messages": [{"role": "user", "content": text}]}
        return agent_policy.decide(chat.parse_request(body)[0])

    assert decide(desk_tools) is not None
    assert decide(desk_tools[:2]) is None, "without the desk's tools the default answerer speaks"
    assert decide(desk_tools, "What is the capital of France?") is None


def test_the_policy_does_not_depend_on_the_system_prompt(solution):
    world = make_world(4)
    for task in world["tasks"][:8]:
        runs = []
        for system in ("You are a support agent.", "Réponds en français. Sois bref. Use the tools."):
            stub = StubLLM()
            desk = SupportDesk(world["data"])
            tools = [solution["function_schema"](f) for f in desk.tools().values()]
            messages = [{"role": "system", "content": system}, {"role": "user", "content": task["user"]}]
            result = solution["run_agent"](stub.client(max_retries=0), messages, tools=tools,
                                           functions=desk.tools(), max_steps=6)
            calls = [(c["function"]["name"], c["function"]["arguments"])
                     for m in result["messages"] for c in m.get("tool_calls", [])]
            runs.append((calls, result["answer"], desk.snapshot()))
        assert runs[0] == runs[1], task["user"]


@pytest.mark.parametrize("seed", [1, 5])
def test_the_solution_succeeds_exactly_where_the_policy_does_not_spoil_the_task(solution, seed):
    """Every recoverable mistake of the policy (bad JSON, a wrong type, an unknown tool, parallel
    calls, an unrequested refund) is recovered from by a correct agent; claiming an action it never
    took fails the task whenever the task needed one."""
    world = make_world(seed)
    stub = StubLLM()
    client = stub.client(max_retries=0)
    runs = [solution["run_task"](client, task, world["data"]) for task in world["tasks"]]
    report = solution["evaluate"](world["tasks"], world["data"], runs)
    quirks = {t["id"]: agent_policy.quirk_for(t["user"]) for t in world["tasks"]}
    spoiled = {t["id"] for t in world["tasks"] if quirks[t["id"]] == "claims_without_acting" and t["actions"]}
    assert {f["task_id"] for f in report["failures"]} == spoiled, report["failures"]
    assert set(quirks.values()) - {"none"}, "the task set should exercise the policy's mistakes"
    assert all(r.status == 200 for r in stub.requests)


def test_the_policy_recovers_from_each_mistake_once_the_error_comes_back(solution):
    seen: Counter = Counter()
    for seed in range(6, 12):
        world = make_world(seed)
        stub = StubLLM()
        client = stub.client(max_retries=0)
        for task in world["tasks"]:
            quirk = agent_policy.quirk_for(task["user"])
            if quirk not in ("bad_json", "wrong_type", "unknown_tool") or seen[quirk] >= 2:
                continue
            run = solution["run_task"](client, task, world["data"])
            steps = run["trace"].steps
            errors = [s for s in steps if s["kind"] == "tool" and s["error"]]
            if not errors:
                continue  # the mistake did not apply to this task (e.g. a wrong type for a policy question)
            assert not solution["judge"](task, world["data"], run)["reasons"], (quirk, task, steps)
            seen[quirk] += 1
    assert set(seen) == {"bad_json", "wrong_type", "unknown_tool"}, seen
