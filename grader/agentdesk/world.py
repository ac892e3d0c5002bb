"""A random shop and its support task set, tau-bench style: success means the expected end state.

``make_world(seed)`` draws customers, orders and policy facts, then tasks of every kind, each
with the actions a correct agent takes (``actions``: the expected end state is the state after
them, see ``desk.run_actions``) and the strings its final answer must contain (``outputs``).
Tasks the policy forbids (a refund above what was paid, cancelling a shipped order) have no
actions: success there means nothing changed. ``make_world(0)`` is the exercise's own task set;
the checks draw fresh worlds so that hard-coded answers fail.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from grader.agentdesk.desk import CANCELLABLE

FIRST_REFUND_ID = "RF-0001"
"""The id of the first refund a fresh desk makes: a refund task's answer must give it."""

FIRST = ["Ana", "Ben", "Chloe", "Dev", "Elif", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kemi", "Lars",
         "Mei", "Nadia", "Omar", "Priya"]
LAST = ["Silva", "Okafor", "Novak", "Tanaka", "Moreau", "Haddad", "Berg", "Costa", "Ivanova", "Reyes"]
PRODUCTS = [("Desk lamp", 34.0), ("Kettle", 49.5), ("Backpack", 79.0), ("Headphones", 129.0),
            ("Yoga mat", 25.0), ("Coffee grinder", 89.9), ("Rain jacket", 119.0), ("Phone case", 19.99),
            ("Water bottle", 22.5), ("Office chair", 249.0), ("Blender", 64.0), ("Throw blanket", 39.0)]
STATUSES = ["pending", "processing", "shipped", "delivered", "delivered", "delivered"]
TASKS_PER_WORLD = 32


def _kb(rng: random.Random) -> tuple[list[dict], dict[str, str]]:
    facts = {
        "returns": f"{rng.choice([14, 30, 45, 60])} days",
        "refund_time": f"{rng.choice([3, 5, 7, 10])} business days",
        "shipping": f"{rng.choice([2, 3, 4])} to {rng.choice([5, 6, 7])} business days",
        "warranty": f"{rng.choice([12, 18, 24, 36])} months",
    }
    kb = [
        {"id": "KB-1", "title": "Returns policy",
         "text": f"Unused items can be returned within {facts['returns']} of delivery for a full refund."},
        {"id": "KB-2", "title": "Refund processing",
         "text": f"Refunds reach the original payment method within {facts['refund_time']}."},
        {"id": "KB-3", "title": "Shipping times",
         "text": f"Standard shipping takes {facts['shipping']} after dispatch."},
        {"id": "KB-4", "title": "Warranty",
         "text": f"Electronics and appliances carry a {facts['warranty']} warranty against defects."},
        {"id": "KB-5", "title": "Cancellations",
         "text": "Orders can be cancelled until they ship (status pending or processing)."},
        {"id": "KB-6", "title": "Damaged or late orders",
         "text": "Delivered orders that arrived damaged or late can be refunded up to the amount paid."},
    ]
    return kb, facts


def _data(rng: random.Random, order_count: int) -> dict:
    customers, orders = {}, {}
    names = rng.sample([(f, last) for f in FIRST for last in LAST], 10)
    for i, (first, last) in enumerate(names):
        customer_id = f"C-{101 + i * rng.randint(1, 9)}"
        customers[customer_id] = {"name": f"{first} {last}",
                                  "email": f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@example.com",
                                  "tier": rng.choice(["standard", "standard", "gold"])}
    order_ids = rng.sample(range(10000, 99999), order_count)
    for i, number in enumerate(order_ids):
        product, price = rng.choice(PRODUCTS)
        quantity = rng.choice([1, 1, 1, 2])
        total = round(price * quantity, 2)
        status = STATUSES[i % len(STATUSES)]
        refunded = round(total * rng.choice([0.25, 0.5]), 2) if status == "delivered" and i % 7 == 3 else 0.0
        orders[f"ORD-{number}"] = {"customer_id": rng.choice(sorted(customers)),
                                   "items": [{"name": product, "price": price, "quantity": quantity}],
                                   "total": total, "status": status, "refunded": refunded}
    kb, facts = _kb(rng)
    return {"customers": customers, "orders": orders, "refunds": [], "kb": kb, "facts": facts}


def _money(value: float) -> str:
    return f"{value:.2f}"


def _customer(data: dict, order: dict) -> dict:
    return data["customers"][order["customer_id"]]


def _status_task(rng: random.Random, data: dict, order_id: str) -> dict:
    order = data["orders"][order_id]
    email = _customer(data, order)["email"]
    user = rng.choice([f"Hi, I'm {email}. What's the status of my order {order_id}?",
                       f"Where is my order {order_id}? Can you check its status? ({email})"])
    return {"kind": "status", "user": user, "actions": [], "outputs": [order["status"]]}


def _cancel_task(rng: random.Random, data: dict, order_id: str) -> dict:
    order = data["orders"][order_id]
    customer = _customer(data, order)
    user = rng.choice([f"Hello, this is {customer['name']} ({customer['email']}). Please cancel my order "
                       f"{order_id}, I ordered it by mistake.",
                       f"Please cancel order {order_id}. I don't need it any more. {customer['email']}"])
    allowed = order["status"] in CANCELLABLE
    actions = [{"name": "cancel_order", "arguments": {"order_id": order_id, "reason": "customer_request"}}]
    return {"kind": "cancel" if allowed else "cancel_refused", "user": user,
            "actions": actions if allowed else [], "outputs": []}


REASONS = {"damaged": "arrived damaged", "late": "arrived two weeks late", "wrong_item": "was the wrong item"}


def _refund_task(rng: random.Random, data: dict, order_id: str, *, too_much: bool = False) -> dict:
    order = data["orders"][order_id]
    email = _customer(data, order)["email"]
    left = round(order["total"] - order["refunded"], 2)
    amount = round(left + rng.choice([5.0, 10.0, 20.0]), 2) if too_much else round(
        rng.choice([0.2, 0.5, 1.0]) * left, 2)
    reason = rng.choice(sorted(REASONS))
    user = (f"Hi, {email} here. My order {order_id} {REASONS[reason]}. Please refund ${_money(amount)} "
            "to my card.")
    allowed = order["status"] == "delivered" and 0 < amount <= left
    actions = [{"name": "refund_order", "arguments": {"order_id": order_id, "amount": amount, "reason": reason}}]
    kind = "refund" if allowed else "refund_refused"
    return {"kind": kind, "user": user, "actions": actions if allowed else [],
            "outputs": [_money(amount), FIRST_REFUND_ID] if allowed else []}


KB_QUESTIONS = {
    "returns": "How many days do I have to return an item? What is your returns policy?",
    "refund_time": "How long does a refund take to reach my card? What does your refund processing policy say?",
    "shipping": "What are your shipping times for standard shipping?",
    "warranty": "What warranty do electronics and appliances carry?",
}


def _kb_task(rng: random.Random, data: dict, topic: str) -> dict:
    return {"kind": "policy", "user": KB_QUESTIONS[topic], "actions": [], "outputs": [data["facts"][topic]]}


def make_world(seed: int | random.Random = 0, tasks: int = TASKS_PER_WORLD, orders: int = 40) -> dict:
    """``{"data": ..., "tasks": [...]}``: a shop with *orders* orders and *tasks* support tasks of every kind."""
    rng = seed if isinstance(seed, random.Random) else random.Random(f"agentdesk:{seed}")
    data = _data(rng, orders)
    by_status: dict[str, list[str]] = {}
    for order_id, order in data["orders"].items():
        by_status.setdefault(order["status"], []).append(order_id)
    delivered = [o for o in by_status["delivered"] if data["orders"][o]["refunded"] < data["orders"][o]["total"]]
    makers: list[Callable[[], dict]] = [
        lambda: _status_task(rng, data, rng.choice(sorted(data["orders"]))),
        lambda: _cancel_task(rng, data, rng.choice(by_status[rng.choice(CANCELLABLE)])),
        lambda: _cancel_task(rng, data, rng.choice(by_status[rng.choice(["shipped", "delivered"])])),
        lambda: _refund_task(rng, data, rng.choice(delivered)),
        lambda: _refund_task(rng, data, rng.choice(delivered)),
        lambda: _refund_task(rng, data, rng.choice(delivered), too_much=True),
        lambda: _refund_task(rng, data, rng.choice(by_status[rng.choice(["pending", "shipped"])])),
        lambda: _kb_task(rng, data, sorted(KB_QUESTIONS)[len(made) // 8 % len(KB_QUESTIONS)]),
    ]
    made: list[dict] = []
    seen: set = set()
    while len(made) < tasks:
        task = makers[len(made) % len(makers)]()
        key = (task["user"], task["kind"])
        if key in seen:  # one order, one task of each kind: tasks stay independent
            continue
        seen.add(key)
        made.append({"id": f"T{len(made) + 1:02d}", **task})
    return {"data": data, "tasks": made}
