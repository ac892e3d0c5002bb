"""The customer-support store the tool-agent exercise's agent works on, and its tools.

``SupportDesk`` holds customers, orders, refunds and a short policy knowledge base in memory;
its tool methods are typed and documented the way a tool schema is generated from them.
The tools are a permissive back-end, as internal APIs often are: ``refund_order`` refunds any
amount it is given. Enforcing the refund and cancellation policy is the agent's guardrails'
job, and judging a run means comparing ``snapshot()`` with the expected state.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any, Literal

OrderStatus = Literal["pending", "processing", "shipped", "delivered", "cancelled"]
CANCELLABLE = ("pending", "processing")
TOOL_NAMES = ("get_customer", "get_order", "list_orders", "search_kb", "cancel_order", "refund_order")


def _copy(value: Any) -> Any:
    """A deep copy of plain JSON data (several times faster than copy.deepcopy)."""
    return json.loads(json.dumps(value))


class SupportDesk:
    """A small shop's support back-end: ``SupportDesk(data)`` works on a copy of *data*.

    *latency* maps a tool name to the seconds it takes (``time.sleep``, which runs on the
    grader's virtual clock), so traces have something to measure.
    """

    def __init__(self, data: dict, latency: dict[str, float] | None = None) -> None:
        self.data = _copy(data)
        self.data.setdefault("refunds", [])
        self.latency = dict(latency or {})

    def _wait(self, tool: str) -> None:
        if self.latency.get(tool):
            time.sleep(self.latency[tool])

    def _order(self, order_id: str) -> dict:
        order = self.data["orders"].get(order_id)
        if order is None:
            raise LookupError(f"no order {order_id!r}")
        return order

    def get_customer(self, email: str) -> dict:
        """Look up a customer by email address.

        Args:
            email (str): The customer's email address, e.g. "ana@example.com".
        """
        self._wait("get_customer")
        for customer_id, customer in self.data["customers"].items():
            if customer["email"].lower() == email.strip().lower():
                return {"customer_id": customer_id, **customer}
        raise LookupError(f"no customer with email {email!r}")

    def get_order(self, order_id: str) -> dict:
        """Get an order: its customer, items, total, status, and how much was refunded.

        Args:
            order_id: The order's id, e.g. "ORD-10234".
        """
        self._wait("get_order")
        return {"order_id": order_id, **_copy(self._order(order_id))}

    def list_orders(self, customer_id: str, status: OrderStatus | None = None) -> list:
        """List a customer's orders, newest first.

        Args:
            customer_id: The customer's id, e.g. "C-104".
            status: Only orders with this status;
                all orders when left out.
        """
        self._wait("list_orders")
        orders = [{"order_id": order_id, "status": order["status"], "total": order["total"]}
                  for order_id, order in self.data["orders"].items()
                  if order["customer_id"] == customer_id and status in (None, order["status"])]
        return orders[::-1]

    def search_kb(self, query: str, limit: int = 2) -> list:
        """Search the shop's policy knowledge base.

        Args:
            query: What to look for, in a few words.
            limit: The most articles to return.
        """
        self._wait("search_kb")
        words = {w.rstrip("s") for w in re.findall(r"[a-z]+", query.lower()) if len(w) > 3}

        def score(article: dict) -> int:
            text = (article["title"] + " " + article["text"]).lower()
            return sum(word in text for word in words)

        ranked = sorted(self.data["kb"], key=lambda a: -score(a))
        return [dict(a) for a in ranked[: max(limit, 0)] if score(a) > 0]

    def cancel_order(self, order_id: str, reason: Literal["customer_request", "duplicate", "fraud"]) -> dict:
        """Cancel an order.

        Args:
            order_id: The order's id, e.g. "ORD-10234".
            reason: Why the order is cancelled.

        Returns:
            The order and its new status.
        """
        self._wait("cancel_order")
        order = self._order(order_id)
        order["status"] = "cancelled"
        order["cancel_reason"] = reason
        return {"order_id": order_id, "status": "cancelled"}

    def refund_order(self, order_id: str, amount: float,
                     reason: Literal["damaged", "late", "wrong_item", "other"], note: str = "") -> dict:
        """Refund part or all of an order to the customer's original payment method.

        Args:
            order_id: The order's id, e.g. "ORD-10234".
            amount: The amount to refund, in dollars: at most what was paid,
                less earlier refunds.
            reason: Why the money is refunded.
            note: A short note for the accounts team.

        Returns:
            The refund's id, the order and the amount refunded.
        """
        self._wait("refund_order")
        order = self._order(order_id)
        refund_id = f"RF-{len(self.data['refunds']) + 1:04d}"
        amount = round(float(amount), 2)  # permissive, like many back-ends: "12.50" is taken
        self.data["refunds"].append({"refund_id": refund_id, "order_id": order_id, "amount": amount,
                                     "reason": reason, "note": note})
        order["refunded"] = round(order["refunded"] + amount, 2)
        return {"refund_id": refund_id, "order_id": order_id, "amount": amount}

    def tools(self) -> dict[str, Callable[..., Any]]:
        """The tool functions by name (bound to this desk)."""
        return {name: getattr(self, name) for name in TOOL_NAMES}

    def snapshot(self) -> dict:
        """The state a run is judged by: customers, orders and refunds (a copy)."""
        return _copy({key: self.data[key] for key in ("customers", "orders", "refunds")})


class ScriptedApprover:
    """A customer who answers confirmation requests from a script: ``answers[i]`` for the i-th.

    Every request is kept in ``asked`` as ``[tool_name, arguments]``; past the script it says no.
    """

    def __init__(self, answers: list[bool]) -> None:
        self.answers = list(answers)
        self.asked: list[list] = []

    def __call__(self, name: str, arguments: dict) -> bool:
        self.asked.append([name, dict(arguments)])
        index = len(self.asked) - 1
        return bool(self.answers[index]) if index < len(self.answers) else False


class CustomerApprover(ScriptedApprover):
    """The customer of a task: approves exactly the changes the task asked for (its actions)."""

    def __init__(self, task: dict) -> None:
        super().__init__([])
        self.wanted = [(a["name"], a["arguments"]) for a in task["actions"]]

    def __call__(self, name: str, arguments: dict) -> bool:
        self.asked.append([name, dict(arguments)])
        return any(name == wanted_name and _same_arguments(arguments, wanted)
                   for wanted_name, wanted in self.wanted)


def _same_arguments(given: dict, wanted: dict) -> bool:
    for key, value in wanted.items():
        got = given.get(key)
        if isinstance(value, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
            if abs(got - value) > 0.005:
                return False
        elif got != value:
            return False
    return True


def run_actions(data: dict, actions: list[dict]) -> dict:
    """The state after *actions* (``[{"name", "arguments"}]``) on a fresh desk: what success means."""
    desk = SupportDesk(data)
    tools = desk.tools()
    for action in actions:
        tools[action["name"]](**action["arguments"])
    return desk.snapshot()
