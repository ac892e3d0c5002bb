"""The stub model as a support agent: a scripted policy per task of the tool-agent exercise.

When the support desk's tools are offered (``grader.agentdesk``) and the latest user message is a
support request (an order id, an amount, a policy question), the stub plays the agent: it looks
the order up, attempts what the customer asked for, and answers from the tool results. It reads
the task from the user's words and its progress from the conversation (the number of assistant
turns since the user spoke), never from the system prompt, so any wording of the instructions
works. Like real models it sometimes errs, chosen by a hash of the request so the same task
always goes the same way: arguments that are not JSON, a wrong argument type, an unknown tool
name (each retried correctly on the next turn, once the error came back as a tool result), two
calls in parallel, a refund nobody asked for, or claiming an action it never took.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from grader.stub.answerer import call_tool
from grader.stub.conversation import Generation, Prompt, Tool, ToolCall

DESK_TOOLS = frozenset({"get_order", "cancel_order", "refund_order", "search_kb"})
QUIRKS = ("none",) * 7 + ("parallel",) * 4 + ("bad_json",) * 2 + ("wrong_type",) * 2 + ("unknown_tool",) + (
    "claims_without_acting",) * 2 + ("refund_without_asking",) * 2

_ORDER = re.compile(r"\bORD-\d{5}\b")
_AMOUNT = re.compile(r"\$(\d+(?:\.\d{1,2})?)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_REASONS = (("damaged", "damaged"), ("late", "late"), ("wrong item", "wrong_item"))


@dataclass(frozen=True)
class Request:
    """What the customer asked for, read from their message."""

    intent: str  # "status", "cancel", "refund" or "policy"
    text: str
    order_id: str = ""
    email: str = ""
    amount: float = 0.0
    reason: str = "other"


def read_request(text: str) -> Request | None:
    """The support request in a user message, or None if it is not one."""
    order = _ORDER.search(text)
    email = _EMAIL.search(text)
    lowered = text.lower()
    common = {"text": text, "order_id": order.group() if order else "", "email": email.group() if email else ""}
    if order and "cancel" in lowered:
        return Request("cancel", **common)
    amount = _AMOUNT.search(text)
    if order and amount and "refund" in lowered:
        reason = next((value for word, value in _REASONS if word in lowered), "other")
        return Request("refund", amount=float(amount.group(1)), reason=reason, **common)
    if order:
        return Request("status", **common)
    if "policy" in lowered or "warranty" in lowered or "shipping" in lowered:
        return Request("policy", **common)
    return None


def quirk_for(text: str) -> str:
    """The mistake the policy makes on this request (``"none"`` most of the time)."""
    digest = hashlib.sha256(" ".join(text.split()).encode()).digest()
    return QUIRKS[int.from_bytes(digest[:4], "big") % len(QUIRKS)]


@dataclass(frozen=True)
class Done:
    """One earlier tool call and what came back."""

    name: str
    arguments: dict
    result: object
    error: str | None


def _history(prompt: Prompt) -> list[Done]:
    turns = prompt.since_last_user()
    results = {t.tool_call_id: t.text for t in turns if t.role == "tool"}
    done = []
    for turn in turns:
        for call in turn.tool_calls:
            try:
                arguments = json.loads(call.arguments)
            except ValueError:
                arguments = {}
            text = results.get(call.id, "")
            try:
                result: object = json.loads(text)
            except ValueError:
                result = text
            error = result.get("error") if isinstance(result, dict) else None
            done.append(Done(call.name, arguments if isinstance(arguments, dict) else {}, result,
                             str(error) if error is not None else None))
    return done


def _calls(prompt: Prompt, specs: list[tuple[str, dict | str]]) -> Generation:
    """Tool calls; arguments a strict schema requires but the call leaves out are sent as null."""
    calls: list[ToolCall] = []
    for index, (name, arguments) in enumerate(specs):
        tool = prompt.tool(name) or Tool(name)
        if isinstance(arguments, dict) and tool.strict:
            arguments = {**{key: None for key in tool.parameters.get("required", [])}, **arguments}
        calls.append(call_tool(prompt, tool, arguments, index))
    return Generation(tool_calls=tuple(calls), finish_reason="tool_calls")


def _action(request: Request) -> tuple[str, dict] | None:
    if request.intent == "cancel":
        return "cancel_order", {"order_id": request.order_id, "reason": "customer_request"}
    if request.intent == "refund":
        return "refund_order", {"order_id": request.order_id, "amount": request.amount, "reason": request.reason}
    return None


def _script(request: Request, quirk: str, done: list[Done]) -> list[list[tuple[str, dict | str]]]:
    """The moves (each a list of parallel calls) before the final answer, mistakes included."""
    lookup: tuple[str, dict | str] = ("get_order", {"order_id": request.order_id})
    if request.intent == "policy":
        lookup = ("search_kb", {"query": request.text})
    first: list[tuple[str, dict | str]] = [lookup]
    if quirk == "parallel" and request.email:
        first = [("get_customer", {"email": request.email}), lookup]
    moves = [first]
    action = _action(request)
    if action is not None and quirk != "claims_without_acting":
        moves.append([action])
    if quirk == "refund_without_asking" and request.intent in ("status", "cancel"):
        order = next((d.result for d in done if d.name == "get_order" and d.error is None), None)
        if isinstance(order, dict) and order.get("status") == "delivered":
            left = round(float(order.get("total", 0)) - float(order.get("refunded", 0)), 2)
            moves.append([("refund_order", {"order_id": request.order_id, "amount": left, "reason": "other"})])
    wrong = _wrong_move(quirk, moves[-1][0])
    if wrong is not None:
        moves.insert(len(moves) - 1, [wrong])
    return moves


def _wrong_move(quirk: str, right: tuple[str, dict | str]) -> tuple[str, dict | str] | None:
    """The erring version of a call, made once before the right one."""
    name, arguments = right
    assert isinstance(arguments, dict)
    if quirk == "bad_json":
        return name, json.dumps(arguments)[:-1]
    if quirk == "unknown_tool":
        renamed = name.replace("get_", "lookup_").replace("_order", "_purchase")
        return (renamed if renamed != name else "kb_lookup"), arguments
    if quirk == "wrong_type":
        if "amount" in arguments:
            return name, {**arguments, "amount": f"{arguments['amount']:.2f}"}
        if "order_id" in arguments:
            return name, {**arguments, "order_id": int(arguments["order_id"].removeprefix("ORD-"))}
    return None


def _answer(request: Request, quirk: str, done: list[Done]) -> str:
    succeeded = {d.name: d for d in done if d.error is None}
    if request.intent == "policy":
        found = succeeded.get("search_kb")
        articles = found.result if found and isinstance(found.result, list) else []
        if not articles or not isinstance(articles[0], dict):
            return "I couldn't find anything about that in our policies."
        return f"From our policy \"{articles[0].get('title')}\": {articles[0].get('text')}"
    order_id = request.order_id
    if quirk == "claims_without_acting" and request.intent == "cancel":
        return f"Done: order {order_id} is cancelled."
    if quirk == "claims_without_acting" and request.intent == "refund":
        return f"Done: I've refunded ${request.amount:.2f} for order {order_id}."
    action = _action(request)
    if action is not None:
        outcome = [d for d in done if d.name == action[0]]
        if not outcome:
            return f"I couldn't {request.intent} order {order_id}."
        if outcome[-1].error is not None:
            return f"I'm sorry, I couldn't {request.intent} order {order_id}: {outcome[-1].error}"
        if request.intent == "cancel":
            return f"Order {order_id} is now cancelled."
        refund = outcome[-1].result if isinstance(outcome[-1].result, dict) else {}
        return (f"I've refunded ${request.amount:.2f} for order {order_id} (refund {refund.get('refund_id')}); "
                "it reaches your card in a few business days.")
    order = succeeded.get("get_order")
    if order is None or not isinstance(order.result, dict):
        error = next((d.error for d in done if d.name == "get_order"), "it could not be found")
        return f"I couldn't look up order {order_id}: {error}"
    return f"Your order {order_id} is {order.result.get('status')}."


def decide(prompt: Prompt) -> Generation | None:
    """The policy's next move, or None when this is not a support-desk conversation."""
    if not {tool.name for tool in prompt.tools} >= DESK_TOOLS or prompt.tool_choice == "none":
        return None
    user = prompt.last("user")
    request = read_request(user.text) if user else None
    if request is None:
        return None
    quirk = quirk_for(request.text)
    done = _history(prompt)
    moves = _script(request, quirk, done)
    step = sum(1 for turn in prompt.since_last_user() if turn.role == "assistant")
    if step < len(moves):
        return _calls(prompt, moves[step])
    return Generation(content=_answer(request, quirk, done))
