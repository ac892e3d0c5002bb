"""Checks for pillar 4, a tool-calling agent (``solutions/04_tool_agent.ipynb``).

The store, its tools and the task set come from ``grader.agentdesk``; every check draws a fresh
shop and tasks from ``rng``, so answers hard-coded for one run fail the next. Protocol verdicts
come from the stub's request log (it answers a broken conversation with the real API's 400),
the model's moves from scenario rules or the stub's agent policy, tool latencies from the
virtual clock. Expected schemas, states and verdicts are computed here, from the BFCL documents
and by replaying a task's actions on the kit's own desk.

PYTEST_DONT_REWRITE: feedback is the assert message as written, under pytest too.
"""

from __future__ import annotations

import functools
import json
import math
import random
import string
import time
from typing import Any

from grader.agentdesk import bfcl
from grader.agentdesk.desk import SupportDesk, run_actions
from grader.agentdesk.world import make_world
from grader.checks import LearnerRaised, fail, make, part, unanswered
from grader.stub import agent_policy
from grader.stub.schema_instance import strict_schema_error
from grader.stub.wire import StubRequest

CHAT_PATH = "/v1/chat/completions"
MODEL = "gpt-4o-mini"




def _token(rng: random.Random, n: int = 8) -> str:
    return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def _world(rng: random.Random) -> dict:
    """A fresh shop: smaller than the notebook's, which is enough for a check and faster."""
    return make_world(rng.randrange(10**9), tasks=24, orders=20)


def _orders(data: dict, *statuses: str) -> list[str]:
    return sorted(o for o, order in data["orders"].items() if not statuses or order["status"] in statuses)


def _refundable(data: dict, order_id: str) -> float:
    order = data["orders"][order_id]
    return round(order["total"] - order["refunded"], 2)


# -- the desk's tool schemas, as part 1 must generate them (strict mode) ----------------------

def _prop(kind: str | list, description: str, **extra: Any) -> dict:
    return {"type": kind, **extra, "description": description}


ORDER_ID = _prop("string", 'The order\'s id, e.g. "ORD-10234".')
DESK_SCHEMAS: dict[str, dict] = {
    "get_customer": ("Look up a customer by email address.",
                     {"email": _prop("string", 'The customer\'s email address, e.g. "ana@example.com".')}),
    "get_order": ("Get an order: its customer, items, total, status, and how much was refunded.",
                  {"order_id": ORDER_ID}),
    "list_orders": ("List a customer's orders, newest first.",
                    {"customer_id": _prop("string", 'The customer\'s id, e.g. "C-104".'),
                     "status": _prop(["string", "null"], "Only orders with this status; all orders when left out.",
                                     enum=["pending", "processing", "shipped", "delivered", "cancelled", None])}),
    "search_kb": ("Search the shop's policy knowledge base.",
                  {"query": _prop("string", "What to look for, in a few words."),
                   "limit": _prop(["integer", "null"], "The most articles to return.")}),
    "cancel_order": ("Cancel an order.",
                     {"order_id": ORDER_ID,
                      "reason": _prop("string", "Why the order is cancelled.",
                                      enum=["customer_request", "duplicate", "fraud"])}),
    "refund_order": ("Refund part or all of an order to the customer's original payment method.",
                     {"order_id": ORDER_ID,
                      "amount": _prop("number", "The amount to refund, in dollars: at most what was paid, less "
                                                "earlier refunds."),
                      "reason": _prop("string", "Why the money is refunded.",
                                      enum=["damaged", "late", "wrong_item", "other"]),
                      "note": _prop(["string", "null"], "A short note for the accounts team.")}),
}
DESK_SCHEMAS = {
    name: {"type": "function", "function": {
        "name": name, "description": description, "strict": True,
        "parameters": {"type": "object", "properties": properties, "required": list(properties),
                       "additionalProperties": False}}}
    for name, (description, properties) in DESK_SCHEMAS.items()
}
DEFAULTED = {"list_orders": {"status"}, "search_kb": {"limit"}, "refund_order": {"note"}}


def _desk_tools(rng: random.Random) -> list[dict]:
    names = list(DESK_SCHEMAS)
    rng.shuffle(names)
    return [DESK_SCHEMAS[name] for name in names]


# -- part 1: tool schemas ----------------------------------------------------------------------

def _schema_mistake(name: str, got: Any, expected: dict, strict: bool) -> str:
    """The first difference between two tool schemas, in words."""
    if not isinstance(got, dict) or not isinstance(got.get("function"), dict):
        return f"function_schema({name}) returned {got!r}; expected {{'type': 'function', 'function': {{...}}}}."
    function, wanted = got["function"], expected["function"]
    params, wanted_params = function.get("parameters"), wanted["parameters"]
    if not isinstance(params, dict):
        return f"The schema of {name} has parameters {params!r}; expected a JSON Schema object."
    params, wanted_params = _unordered(params), _unordered(wanted_params)
    required = params.get("required") if isinstance(params.get("required"), list) else []
    properties = params.get("properties") if isinstance(params.get("properties"), dict) else {}
    for param in wanted_params["required"]:
        got_type = (properties.get(param) or {}).get("type")
        wanted_type = wanted_params["properties"][param]["type"]
        optional = param not in required or (
            isinstance(got_type, list) and "null" in got_type and "null" not in wanted_type)
        if param in properties and optional and (strict or param not in DEFAULTED.get(name, ())):
            return (f"The schema of {name} marked the required parameter {param!r} optional "
                    f"(type {got_type!r}, required {required}): the model may then leave it out. Only "
                    "parameters with a default may be optional (in strict mode: nullable).")
    if strict and (problem := strict_schema_error(params)):
        return f"The schema of {name} breaks strict mode, and the API would reject it with a 400: {problem}"
    if bool(function.get("strict")) != bool(wanted.get("strict")):
        return f"The schema of {name} has strict {function.get('strict')!r}; expected {bool(wanted.get('strict'))}."
    for key in ("name", "description"):
        if function.get(key) != wanted.get(key):
            return (f"The schema of {name} has {key} {function.get(key)!r}; expected {wanted.get(key)!r}"
                    + (" (the docstring's text before Args:)." if key == "description" else "."))
    if params == wanted_params:
        return ""
    for param, spec in wanted_params["properties"].items():
        got_spec = properties.get(param)
        if got_spec == spec:
            continue
        if got_spec is None:
            return f"The schema of {name} has no property {param!r}."
        if "enum" in spec and got_spec.get("enum") != spec["enum"]:
            return (f"{name}'s parameter {param!r} has enum {got_spec.get('enum')!r}; a Literal becomes "
                    f"an enum of its values: {spec['enum']!r}.")
        if got_spec.get("type") != spec["type"]:
            nullable = isinstance(spec["type"], list)
            return (f"{name}'s parameter {param!r} has type {got_spec.get('type')!r}; expected {spec['type']!r}"
                    + (" (in strict mode a parameter with a default is nullable)." if nullable and strict else "."))
        return f"{name}'s parameter {param!r} is {got_spec!r}; expected {spec!r} (its description from the docstring)."
    return f"The parameters of {name} are {params!r}; expected {wanted_params!r}."


def _unordered(schema: Any) -> Any:
    """*schema* with its ``required`` and ``enum`` lists sorted: their order means nothing (and typing
    caches ``Literal`` types, so a Literal's order may come from an earlier, equal one)."""
    if isinstance(schema, list):
        return [_unordered(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {key: sorted(value, key=repr) if key in ("required", "enum") and isinstance(value, list)
            else _unordered(value) for key, value in schema.items()}


def _learner_schema(nb: Any, function: Any, name: str, **kwargs: Any) -> Any:
    try:
        got = nb.function_schema(function, **kwargs)
    except LearnerRaised as error:
        unanswered(error)
        fail(f"function_schema({name}{', strict=False' if kwargs else ''}) raised {error.type_name}: "
              f"{error.message[:200]}")
    assert isinstance(got, dict) and got.get("type") == "function", (
        f"function_schema({name}) returned {json.dumps(got)[:200]}; a tool is {{'type': 'function', 'function': "
        "{...}} (the API refuses any other type).")
    return got


@part("agent-schemas", weight=2, hint="Walk inspect.signature(func) with typing.get_type_hints(func); in strict "
      "mode list every parameter in required and make the defaulted ones nullable.")
def test_desk_tool_schemas(nb, rng):
    desk = nb.SupportDesk(_world(rng)["data"])
    tools = desk.tools()
    for schema in _desk_tools(rng):
        name = schema["function"]["name"]
        got = _learner_schema(nb, tools[name], name)
        problem = _schema_mistake(name, got, schema, strict=True)
        assert not problem, problem
    loose = _learner_schema(nb, tools["refund_order"], "refund_order", strict=False)
    note = loose.get("function", {}).get("parameters", {}).get("properties", {}).get("note")
    assert isinstance(note, dict) and note.get("type") == "string", (
        f"function_schema(refund_order, strict=False) describes note (note: str = '') as {note!r}: without strict "
        "mode types stay as annotated (only strict mode makes defaulted parameters nullable).")


PYTHON_NAMES = {"string": "str", "integer": "int", "float": "float", "boolean": "bool"}  # BFCL's type names


@part("agent-schemas", hint="parse_docstring(None) is ('', {}); a more-indented line continues the parameter "
      "above it, colon or not. json_schema_for raises TypeError for an annotation it cannot map, and for any "
      "union but X | None.")
def test_docstrings_and_unmappable_annotations(nb, rng):
    got = nb.parse_docstring(None)
    assert isinstance(got, (list, tuple)) and tuple(got) == ("", {}), (
        f"parse_docstring(None) returned {got!r}: a function without a docstring (inspect.getdoc gives None) has "
        "the description '' and no parameter descriptions.")
    name, other = rng.sample(["order_id", "email", "limit", "query"], 2)
    label = rng.choice(["format", "example", "note"])
    doc = (f"Look something up.\n\nArgs:\n    {name}: What to look for,\n        {label}: ORD-1234.\n"
           f"    {other}: How many.\n\nReturns:\n    The thing.\n")
    want = ("Look something up.", {name: f"What to look for, {label}: ORD-1234.", other: "How many."})
    got = nb.parse_docstring(doc)
    assert isinstance(got, (list, tuple)) and tuple(got) == want, (
        f"parse_docstring gave {got!r} for {doc!r}; expected {want!r}: a more-indented line continues the "
        f"parameter above it, even when it holds a colon ('{label}: ...' is not a parameter).")
    # Only what the notebook has imported by this part's check cell (its own answer cell imports typing
    # and inspect): in Jupyter, check() runs before the cells of later parts. Unions are built on the
    # learner's side from a spec (``make("annotation")``): two types, without and with None.
    cases = [(nb.typing.Any, "typing.Any"), (nb.inspect.Signature, "the class inspect.Signature")]
    first, second = rng.sample(sorted(PYTHON_NAMES), 2)
    union = f"{PYTHON_NAMES[first]} | {PYTHON_NAMES[second]}"
    cases += [(make("annotation", spec={"type": [first, second]}), union),
              (make("annotation", spec={"type": [first, second, "null"]}), f"{union} | None")]
    for annotation, what in cases:
        try:
            got = nb.json_schema_for(annotation)
        except LearnerRaised as error:
            unanswered(error)
            assert error.is_a("TypeError"), (
                f"json_schema_for({what}) raised {error.type_name}; raise TypeError for an annotation with no "
                "JSON Schema type.")
            continue
        if " | " in what:
            fail(_union_mistake(what, got))
        fail(f"json_schema_for({what}) returned {got!r}; raise TypeError for an annotation with no JSON Schema "
             "type, so function_schema cannot describe a parameter wrongly.")


def _union_mistake(what: str, got: Any) -> str:
    nullable = isinstance(got, dict) and isinstance(got.get("type"), list) and "null" in got["type"]
    misread = f", a nullable schema, though {what} does not allow None" if nullable and "None" not in what else ""
    return (f"json_schema_for({what}) returned {got!r}{misread}: only a union of one type with None (X | None) "
            "has a schema here, X's made nullable. Raise TypeError for any other union, as for any annotation "
            "with no JSON Schema type.")


def _bfcl_type(spec: dict) -> dict:
    kind = spec["type"]
    if kind == "array":
        return {"type": "array", "items": _bfcl_type(spec.get("items") or {})}
    converted = {"type": bfcl.BFCL_JSON_TYPES.get(kind, kind)}
    if "enum" in spec:
        converted["enum"] = list(spec["enum"])
    return converted


def _expected_from_doc(doc: dict, strict: bool) -> dict:
    """The schema function_schema must give the Python function built from a BFCL document."""
    params = doc["parameters"]
    required_names = set(params.get("required", []))
    properties, required = {}, []
    for name, spec in params.get("properties", {}).items():
        converted = _bfcl_type(spec)
        if name not in required_names:  # function_from_doc writes `X | None = None`
            converted["type"] = [converted["type"], "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
        converted["description"] = " ".join(str(spec.get("description", "")).split())
        properties[name] = converted
        if strict or name in required_names:
            required.append(name)
    function = {"name": bfcl.python_name(doc["name"]), "description": " ".join(doc.get("description", "").split()),
                "parameters": {"type": "object", "properties": properties, "required": required,
                               "additionalProperties": False}}
    if strict:
        function["strict"] = True
    return {"type": "function", "function": function}


def _features(item: dict) -> set[str]:
    """What a BFCL item has that a check may need: nested BFCL types, optional parameters, enums, ..."""
    params = item["doc"]["parameters"]
    nested = json.dumps(params.get("properties", {}))
    found = {kind for kind in ("dict", "float", "tuple", "array", "any") if f'"type": "{kind}"' in nested}
    if set(params.get("properties", {})) - set(params.get("required", [])):
        found.add("optional")
    if '"enum"' in nested:
        found.add("enum")
    if "." in item["doc"]["name"]:
        found.add("dotted")
    if bfcl.supported(item["doc"]):
        found.add("python")
    return found


@functools.cache
def _with_feature() -> dict[str, list[int]]:
    index: dict[str, list[int]] = {}
    for position, item in enumerate(bfcl.items()):
        for feature in _features(item):
            index.setdefault(feature, []).append(position)
    return index


def _pick_docs(rng: random.Random, count: int, *wanted: str | tuple[str, ...]) -> list[dict]:
    """*count* random BFCL items, among them always one with each wanted feature (or set of features)."""
    items, index = bfcl.items(), _with_feature()
    chosen: list[int] = []
    for features in wanted:
        features = (features,) if isinstance(features, str) else features
        having = set.intersection(*(set(index[f]) for f in features))
        if not having & set(chosen):  # an item chosen for another feature may have this one too
            chosen.append(rng.choice(sorted(having)))
    rest = sorted(set(range(len(items))) - set(chosen))
    chosen += rng.sample(rest, max(count - len(chosen), 0))
    return [items[position] for position in chosen]


@part("agent-schemas", weight=2, hint="Required means: no default. A strict schema lists every parameter in "
      "required; a non-strict one only those without a default.")
def test_bfcl_function_schemas(nb, rng, quick):
    items = _pick_docs(rng, 3 if quick else 8, ("python", "optional"), ("python", "enum"), ("python", "array"))
    items = [item for item in items if bfcl.supported(item["doc"])]
    for item in items:
        doc = item["doc"]
        function = nb.function_from_doc(doc)
        name = bfcl.python_name(doc["name"])
        for strict in (False, True):
            got = _learner_schema(nb, function, name, strict=strict)
            problem = _schema_mistake(name, got, _expected_from_doc(doc, strict), strict)
            assert not problem, f"(BFCL {item['id']}, strict={strict}) {problem}"


def _converted(spec: Any) -> Any:
    """BFCL's parameter spec as JSON Schema: the reference conversion bfcl_tool must match."""
    if not isinstance(spec, dict):
        return spec
    out = {}
    for key, value in spec.items():
        if key == "type":
            out[key] = bfcl.BFCL_JSON_TYPES.get(value, value)
        elif key == "properties":
            out[key] = {name: _converted(inner) for name, inner in value.items()}
        elif key == "items":
            out[key] = _converted(value)
        else:
            out[key] = value
    return out


def _left_types(schema: Any) -> set[str]:
    """BFCL-only type names still present in a converted schema."""
    found: set[str] = set()
    if isinstance(schema, dict):
        if isinstance(schema.get("type"), str) and schema["type"] in bfcl.BFCL_JSON_TYPES:
            found.add(schema["type"])
        for value in schema.values():
            found |= _left_types(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= _left_types(value)
    return found


@part("agent-schemas", weight=2, hint="Map BFCL's types (dict -> object, float -> number, tuple -> array, "
      "any -> string) at every depth: properties and items too; dots in names become underscores.")
def test_bfcl_documents_become_tools(nb, rng, quick):
    items = _pick_docs(rng, 4 if quick else 10, "dict", "float", "tuple", "any", "dotted")
    for item in items:
        doc = item["doc"]
        try:
            got = nb.bfcl_tool(doc)
        except LearnerRaised as error:
            unanswered(error)
            fail(f"bfcl_tool raised {error.type_name} on BFCL {item['id']} ({doc['name']}): {error.message[:200]}")
        expected = {"type": "function", "function": {"name": bfcl.python_name(doc["name"]),
                                                     "description": doc.get("description", ""),
                                                     "parameters": _converted(doc["parameters"])}}
        if got == expected:
            continue
        left = _left_types(got)
        assert not left, (
            f"bfcl_tool({doc['name']}) left BFCL's type {sorted(left)[0]!r} in the schema: JSON Schema has no "
            f"such type (a 'dict' is an 'object', a 'float' a 'number', a 'tuple' an 'array'), and the API "
            "rejects the tool.")
        name = got.get("function", {}).get("name") if isinstance(got, dict) else None
        assert name == expected["function"]["name"], (
            f"bfcl_tool gave {doc['name']!r} the name {name!r}; tool names may only hold letters, digits, '_' "
            f"and '-': expected {expected['function']['name']!r}.")
        fail(f"bfcl_tool on BFCL {item['id']} returned {json.dumps(got)[:400]}; expected "
              f"{json.dumps(expected)[:400]}")


# -- part 2: errors as observations ------------------------------------------------------------

def _valid(value: Any, schema: dict) -> bool:
    """The reference validator: does *value* satisfy *schema* (types, enum, required, properties, items)?"""
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds or []
    checks = {"integer": lambda v: type(v) is int, "number": lambda v: type(v) in (int, float),
              "string": lambda v: type(v) is str, "boolean": lambda v: type(v) is bool,
              "array": lambda v: type(v) is list, "object": lambda v: type(v) is dict,
              "null": lambda v: v is None}
    if kinds and not any(checks.get(kind, lambda v: False)(value) for kind in kinds):
        return False
    if "enum" in schema and not any(type(value) is type(v) and value == v for v in schema["enum"]):
        return False
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        return (all(name in value for name in schema.get("required", []))
                and all(name in properties and _valid(item, properties[name]) for name, item in value.items()))
    if isinstance(value, list) and "items" in schema:
        return all(_valid(item, schema["items"]) for item in value)
    return True


def _first_acceptable(values: Any) -> Any:
    """The first acceptable value of a BFCL ground-truth argument (nested dicts too); "" = leave out."""
    value = values[0] if isinstance(values, list) and values else values
    if isinstance(value, dict):
        return {key: _first_acceptable(inner) for key, inner in value.items()
                if _first_acceptable(inner) != ""}
    return value


def _ground_truth_call(item: dict) -> tuple[dict, dict] | None:
    """(JSON-Schema parameters, a valid call) from a BFCL item, or None if its ground truth does not
    validate (BFCL's own data has a few such items)."""
    schema = _converted(item["doc"]["parameters"])
    (arguments,) = item["ground_truth"].values()
    call = {name: _first_acceptable(values) for name, values in arguments.items()}
    call = {name: value for name, value in call.items() if value != ""}
    return (schema, call) if _valid(call, schema) else None


def _wrong_value(schema: dict, rng: random.Random) -> Any:
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    options = {"integer": [str(rng.randint(2, 99)), rng.randint(2, 99) + 0.5, True],
               "number": [f"{rng.uniform(1, 99):.2f}", False], "string": [rng.randint(2, 99), ["a", "b"]],
               "boolean": ["true", 1], "array": ["a,b", {"a": 1}], "object": ["{}", [1]]}
    return rng.choice(options.get(kind, [object.__name__]))


def _broken_calls(schema: dict, call: dict, rng: random.Random) -> list[tuple[str, str, dict]]:
    """(what is wrong, the parameter it concerns, the call) for each way to break *call*."""
    properties = schema.get("properties", {})
    broken = []
    required = [name for name in schema.get("required", []) if name in call]
    if required:
        name = rng.choice(required)
        broken.append(("a missing required parameter", name, {k: v for k, v in call.items() if k != name}))
    extra = f"extra_{_token(rng, 4)}"
    broken.append(("an unexpected parameter", extra, {**call, extra: rng.randint(1, 9)}))
    typed = [name for name in call if properties.get(name, {}).get("type") in
             ("integer", "number", "string", "boolean", "array", "object")]
    if typed:
        name = rng.choice(typed)
        broken.append(("a value of the wrong type", name, {**call, name: _wrong_value(properties[name], rng)}))
    enums = [name for name in properties if properties[name].get("enum")]
    if enums:
        name = rng.choice(enums)
        broken.append(("a value not in the enum", name, {**call, name: f"not-{_token(rng, 5)}"}))
    return broken


def _validate(nb: Any, arguments: Any, schema: dict, what: str) -> list:
    try:
        got = nb.validate_arguments(arguments, schema)
    except LearnerRaised as error:
        unanswered(error)
        fail(f"validate_arguments raised {error.type_name} on {what} ({json.dumps(arguments)[:200]}): "
              f"{error.message[:200]}; return the problems as a list instead.")
    assert isinstance(got, list), f"validate_arguments returned {got!r}; return a list of messages."
    return got


EDGE_SCHEMA = {"type": "object", "additionalProperties": False,
               "required": ["count", "ratio", "flag", "tags", "filters"],
               "properties": {"count": {"type": "integer"}, "ratio": {"type": "number"}, "flag": {"type": "boolean"},
                              "tags": {"type": "array", "items": {"type": "string"}},
                              "note": {"type": ["string", "null"]},
                              "filters": {"type": "object", "properties": {"region": {"type": "string"},
                                                                           "limit": {"type": "integer"}}}}}


def _edge_cases(rng: random.Random) -> list[tuple[str, str | None, dict]]:
    """The cases BFCL's checker is strict about: bool is not an int, 3.0 is not an integer, an int is a
    number, null where null is allowed, nested objects and array items."""
    valid = {"count": rng.randint(1, 50), "ratio": rng.randint(1, 9), "flag": rng.choice([True, False]),
             "tags": [_token(rng, 4)], "note": None, "filters": {"region": _token(rng, 5)}}
    return [
        ("valid arguments (an int for a number, null for a nullable parameter)", None, valid),
        ("a bool where an integer is expected", "count", {**valid, "count": True}),
        ("a float where an integer is expected", "count", {**valid, "count": float(rng.randint(2, 9))}),
        ("a bool where a number is expected", "ratio", {**valid, "ratio": False}),
        ("a wrong type inside a nested object", "limit", {**valid, "filters": {"limit": str(rng.randint(1, 9))}}),
        ("a wrong type inside an array", "tags", {**valid, "tags": [_token(rng, 3), rng.randint(1, 9)]}),
        ("null where null is not allowed", "ratio", {**valid, "ratio": None}),
    ]


def _schema_edge_cases(rng: random.Random) -> list[tuple[str, str | None, dict, dict]]:
    """Schemas without a type, arrays without items, type lists, and an enum that true must not match."""
    def one(name: str, schema: dict) -> dict:
        return {"type": "object", "properties": {name: schema}}

    return [
        ("a parameter whose schema has no type", None, {"anything": rng.choice([1, "x", [2], None])},
         one("anything", {"description": "any value"})),
        ("an array whose schema has no items", None, {"tags": [rng.randint(1, 9), _token(rng, 3)]},
         one("tags", {"type": "array"})),
        ("a string where the type list allows a string or an array of integers", None, {"ids": _token(rng, 5)},
         one("ids", {"type": ["array", "string"], "items": {"type": "integer"}})),
        ("true where the enum holds 0 and 1 (true is not 1 in JSON)", "flag", {"flag": True},
         one("flag", {"enum": [0, 1]})),
    ]


@part("agent-errors", weight=2, hint="Check the type first (a bool is not an integer; an int is a number), "
      "then enum, required, unexpected parameters, and recurse into properties and items.")
def test_validate_arguments_like_bfcl(nb, rng, quick):
    cases: list[tuple[str, str | None, dict, dict]] = [(what, param, call, EDGE_SCHEMA)
                                                       for what, param, call in _edge_cases(rng)]
    cases += _schema_edge_cases(rng)
    items = _pick_docs(rng, 3 if quick else 8, "enum", "float", "dict")
    for item in items:
        made = _ground_truth_call(item)
        if made is None:
            continue
        schema, call = made
        cases.append((f"BFCL {item['id']}'s ground-truth call", None, call, schema))
        cases += [(f"{what} in a call of BFCL {item['id']}", param, broken, schema)
                  for what, param, broken in _broken_calls(schema, call, rng)]
    for what, param, call, schema in cases:
        got = _validate(nb, call, schema, what)
        if param is None:
            assert got == [], (f"validate_arguments found problems {got} in {what}, which is valid: "
                               f"{json.dumps(call)[:300]}")
            continue
        assert got, (f"validate_arguments accepted {what} ({param!r}): {json.dumps(call)[:300]}; the tool "
                     "would run with arguments its schema forbids.")
        assert any(param in str(problem) for problem in got), (
            f"validate_arguments reported {got} for {what}; name the parameter ({param!r}) so the model "
            "knows what to fix.")


def _result(nb: Any, name: str, arguments: str, functions: Any, tools: list, story: str) -> Any:
    try:
        got = nb.execute_tool_call(name, arguments, functions, tools)
    except LearnerRaised as error:
        unanswered(error)
        crash = ("crashed on arguments that are not valid JSON" if "JSON" in story else f"raised on {story}")
        fail(f"execute_tool_call {crash}: {error.type_name}: {error.message[:200]}. Never raise: report "
              "the problem to the model as the tool's result, e.g. {\"error\": \"...\"}.")
    assert isinstance(got, str), f"execute_tool_call returned {got!r} for {story}; return JSON text."
    try:
        return json.loads(got)
    except ValueError:
        fail(f"execute_tool_call returned {got[:200]!r} for {story}: not JSON text (use json.dumps).")


def _bad_calls(data: dict, rng: random.Random) -> list[tuple[str, str, str, str]]:
    """(story, tool, arguments text, a word the error must contain); each must leave the store as it was."""
    delivered = rng.choice([o for o in _orders(data, "delivered") if _refundable(data, o) > 1])
    pending = rng.choice(_orders(data, "pending", "processing"))
    amount = round(_refundable(data, delivered) / 2, 2)
    unknown = rng.choice(["lookup_order", "refund", "cancel_purchase", "get_orders"])
    refund = {"order_id": delivered, "amount": amount, "reason": "damaged", "note": None}
    return [
        ("an unknown tool", unknown, json.dumps({"order_id": delivered}), unknown),
        ("arguments that are not valid JSON", "refund_order", json.dumps(refund)[:-rng.randint(1, 6)], "JSON"),
        ("arguments that are a JSON array, not an object", "cancel_order", json.dumps([pending, "duplicate"]),
         "object"),
        ("an amount sent as a string", "refund_order", json.dumps({**refund, "amount": f"{amount:.2f}"}), "amount"),
        ("a missing required parameter", "cancel_order", json.dumps({"order_id": pending}), "reason"),
        ("a reason that is not in the enum", "cancel_order",
         json.dumps({"order_id": pending, "reason": rng.choice(["changed my mind", "other", "late"])}), "reason"),
        ("an unexpected parameter", "refund_order", json.dumps({**refund, "force": True}), "force"),
    ]


@part("agent-errors", weight=2, hint="Look the tool up, json.loads the arguments, validate them against the "
      "tool's parameters, and only then call it, inside try/except; every failure is tool_error(...).")
def test_bad_calls_become_observations(nb, rng):
    data = _world(rng)["data"]
    desk = nb.SupportDesk(data)
    functions = desk.tools()
    tools = _desk_tools(rng)
    initial = SupportDesk(data).snapshot()
    cases = _bad_calls(data, rng)
    rng.shuffle(cases)
    results = []
    for story, name, arguments, word in cases:  # first: was anything executed? (quick too: each case is a mistake)
        results.append((story, name, arguments, word, _result(nb, name, arguments, functions, tools, story)))
        if desk.snapshot() != initial:
            fail(f"execute_tool_call executed {name} with {story} ({arguments}): it ran a tool with arguments "
                  "that do not validate. Validate against the tool's schema before calling it.")
    for story, name, arguments, word, result in results:
        assert isinstance(result, dict) and isinstance(result.get("error"), str), (
            f"For {story} ({name} {arguments}), execute_tool_call returned {result!r}; return "
            "tool_error(...) so the model learns what went wrong.")
        assert word.lower() in result["error"].lower(), (
            f"The error for {story} says {result['error']!r}; say what is wrong (mention {word!r}) so the "
            "model can correct its call.")


@part("agent-errors", hint="Call the function with the parsed arguments (nulls for defaulted parameters left "
      "out), return json.dumps(result), and turn an exception it raises into tool_error(...).")
def test_tools_run_and_their_failures_are_reported(nb, rng):
    data = _world(rng)["data"]
    desk = nb.SupportDesk(data)
    functions = desk.tools()
    tools = _desk_tools(rng)
    order_id = rng.choice(_orders(data))
    result = _result(nb, "get_order", json.dumps({"order_id": order_id}), functions, tools, "a valid call")
    expected = SupportDesk(data).get_order(order_id)
    assert result == expected, f"execute_tool_call('get_order', ...) returned {result!r}; expected {expected!r}."
    missing = f"ORD-{rng.randint(0, 9999):04d}"
    result = _result(nb, "get_order", json.dumps({"order_id": missing}), functions, tools,
                     "a tool that raises (an order that does not exist)")
    assert isinstance(result, dict) and "no order" in str(result.get("error", "")), (
        f"get_order raised LookupError('no order {missing!r}'), and execute_tool_call returned {result!r}; "
        "report the exception (its type and message) as tool_error(...).")
    delivered = rng.choice([o for o in _orders(data, "delivered") if _refundable(data, o) > 1])
    call = {"order_id": delivered, "amount": 1.0, "reason": "late", "note": None}
    result = _result(nb, "refund_order", json.dumps(call), functions, tools, "a valid call with note: null")
    assert isinstance(result, dict) and result.get("refund_id"), (
        f"A valid refund_order call with note: null returned {result!r}: null for a parameter with a default "
        "means 'use the default'; leave it out of the call.")
    refunds = desk.snapshot()["refunds"]
    assert refunds and refunds[-1].get("note") == "", (
        f"refund_order received note={refunds[-1].get('note') if refunds else None!r} for note: null; leave "
        "nulls for defaulted parameters out, so the default ('') applies.")
    note = f"ticket {_token(rng, 6)}"
    _result(nb, "refund_order", json.dumps({**call, "note": note}), functions, tools, "a valid call with a note")
    refunds = desk.snapshot()["refunds"]
    assert refunds and refunds[-1].get("note") == note, (
        f"refund_order received note={refunds[-1].get('note') if refunds else None!r} for note: {note!r}; only a "
        "null means 'use the default': pass every other value of a defaulted parameter on.")
    where = {"type": "function", "function": {"name": "workspace", "description": "The current record.",
                                              "parameters": {"type": "object", "properties": {}}}}
    # inspect.Signature() (part 1's answer cell imports inspect; in Jupyter a later part's imports have
    # not run when this part is checked) is an object JSON cannot encode, as a date or a Path is.
    result = _result(nb, "workspace", "{}", {"workspace": nb.inspect.Signature}, [where],
                     "a tool that returns an object JSON cannot encode")
    assert result == "()", (
        f"A tool returned inspect.Signature(), and execute_tool_call returned {result!r}; send what JSON "
        "cannot encode (a date, a Path) as its text: json.dumps(result, default=str).")
    offered = [t for t in tools if t["function"]["name"] != "get_order"]
    ghost = rng.choice(["lookup_order", "order_status"])
    ghost_tool = {"type": "function", "function": {"name": ghost, "description": "Not implemented.",
                                                   "parameters": {"type": "object", "properties": {}}}}
    for name, arguments, tools_sent, story in [
            ("get_order", {"order_id": order_id}, offered, "a tool that was not offered to the model"),
            (ghost, {}, [*tools, ghost_tool], "a tool offered but not implemented")]:
        result = _result(nb, name, json.dumps(arguments), functions, tools_sent, story)
        assert isinstance(result, dict) and name in str(result.get("error", "")), (
            f"For {story} ({name}), execute_tool_call returned {result!r}; a tool needs both a schema in tools "
            "and a function: report the unknown tool by name as tool_error(...).")


# -- part 3: the loop --------------------------------------------------------------------------

PROTOCOL = [
    ("must be a response to a preceeding message with 'tool_calls'",
     "dropped the assistant message before the tool results: append the assistant message that made the "
     "tool calls, then one tool message per call"),
    ("not found in 'tool_calls' of previous message",
     "sent a wrong tool_call_id: each tool message must carry the id of the call it answers (call.id)"),
    ("did not have response messages",
     "answered only some of the parallel calls: every call in a reply needs its own tool message"),
]


def _chat(stub: Any) -> list:
    return [r for r in stub.requests if r.path == CHAT_PATH]


def _run(nb: Any, stub: Any, messages: list, tools: list, functions: Any, what: str, **kwargs: Any) -> Any:
    """run_agent's result; a 400 from the API is explained by the protocol rule the loop broke."""
    client = make("openai_client", max_retries=0, timeout=10)
    try:
        result = nb.run_agent(client, messages, tools=tools, functions=functions, model=MODEL, **kwargs)
    except LearnerRaised as error:
        unanswered(error)
        for text, meaning in PROTOCOL:
            if text in error.message:
                fail(f"{what}: the API answered 400 ({error.message[:160]}...): run_agent {meaning}.")
        fail(f"{what}: run_agent raised {error.type_name}: {error.message[:300]}")
    assert isinstance(result, dict), f"run_agent returned {result!r}; return a dict (answer, stopped, ...)."
    return result


def _conversation(rng: random.Random, text: str) -> list[dict]:
    system = rng.choice(["You are a helpful support agent.", "Be brief. Use tools when needed.",
                         "You help customers of a small shop."])
    return [{"role": "system", "content": system}, {"role": "user", "content": text}]


def _call(name: str, arguments: dict, call_id: str) -> dict:
    return {"name": name, "arguments": arguments, "id": call_id}


def _check_tool_messages(stub: Any, before: int, calls: list[dict], results: list[Any]) -> None:
    """The request after a tool-calling reply: the assistant message, then one result per call."""
    messages = _chat(stub)[1].body["messages"]
    assistant, answers = messages[before], messages[before + 1:]
    assert assistant.get("role") == "assistant" and [c.get("id") for c in assistant.get("tool_calls") or []] == [
        c["id"] for c in calls], (
        f"After the model's tool calls, the next request had {assistant!r} where the assistant message with "
        "those tool_calls belongs.")
    kinds = [c.get("type") for c in assistant["tool_calls"]]
    assert kinds == ["function"] * len(calls), (
        f"The assistant message sent back gives its tool calls the types {kinds}; each call is "
        "{'id', 'type': 'function', 'function': {...}} (the API refuses a call without its type).")
    sent_calls = [(c.get("function", {}).get("name"), json.loads(c.get("function", {}).get("arguments") or "null"))
                  for c in assistant["tool_calls"]]
    assert sent_calls == [(c["name"], c["arguments"]) for c in calls], (
        f"The assistant message sent back holds the calls {sent_calls}; send the model's own calls back "
        "unchanged (each function's name and arguments).")
    assert [m.get("tool_call_id") for m in answers] == [c["id"] for c in calls], (
        f"The tool messages answer the call ids {[m.get('tool_call_id') for m in answers]}; expected one per "
        f"call, in order: {[c['id'] for c in calls]}.")
    for message, call, expected in zip(answers, calls, results, strict=True):
        try:
            content = json.loads(message.get("content"))
        except (TypeError, ValueError):
            content = message.get("content")
        assert content == expected, (
            f"The result sent for {call['name']}({json.dumps(call['arguments'])}) was {message.get('content')!r:.200}; "
            f"expected the tool's result as JSON, {json.dumps(expected)[:200]}.")


@part("agent-loop", hint="Append assistant_message(message), then one tool message per call with "
      "tool_call_id=call.id, and call the model again until a reply has no tool calls.")
def test_one_call_then_answer(nb, stub, rng):
    data = _world(rng)["data"]
    order_id = rng.choice(_orders(data))
    token = _token(rng)
    final = f"Order {order_id} checked ({token})."
    call = _call("get_order", {"order_id": order_id}, f"call_{_token(rng, 12)}")
    stub.add_rule({"when": {"user_contains": token},
                   "steps": [{"tool_calls": [call]}, {"content": final}]})
    messages = _conversation(rng, f"Where is order {order_id}? ref {token}")
    tools = _desk_tools(rng)
    callers = nb.hold(messages)  # the caller's own list, not a copy: read back after the run
    result = _run(nb, stub, callers, tools, nb.SupportDesk(data).tools(), "One tool call, then an answer")
    sent = _chat(stub)
    assert len(sent) == 2, f"run_agent made {len(sent)} model calls for one tool call and an answer; expected 2."
    assert sent[0].body.get("tools") == tools, "run_agent did not send the tools (tools=tools) to the model."
    _check_tool_messages(stub, len(messages), [call], [SupportDesk(data).get_order(order_id)])
    assert result.get("answer") == final and result.get("stopped") == "answer", (
        f"run_agent returned answer {result.get('answer')!r}, stopped {result.get('stopped')!r}; expected the "
        f"model's final text {final!r} and stopped 'answer'.")
    assert result.get("steps") == 2, f"run_agent reported steps={result.get('steps')!r}; it made 2 model calls."
    conversation = result.get("messages")
    assert isinstance(conversation, list) and len(conversation) == len(messages) + 3 and (
        conversation[-1].get("role") == "assistant" and conversation[-1].get("content") == final), (
        "run_agent's messages should be the whole conversation: the input, the assistant's tool call, the "
        "tool result and the final assistant answer.")
    after = callers.get()
    grew = isinstance(after, list) and len(after) > len(messages) and after[:len(messages)] == messages
    assert after == messages, (
        f"run_agent {f'appended {len(after) - len(messages)} messages to' if grew else 'changed'} the caller's "
        "messages list: work on a copy (messages = list(messages)), so the caller's list is left as it was "
        "and the same conversation can be run again.")


@part("agent-loop", weight=1.5, hint="Loop over every call in message.tool_calls, not just the first; each "
      "gets its own tool message with its own id.")
def test_parallel_calls(nb, stub, rng):
    data = _world(rng)["data"]
    orders = rng.sample(_orders(data), rng.randint(2, 3))
    token = _token(rng)
    customer_id = data["orders"][orders[0]]["customer_id"]
    email = data["customers"][customer_id]["email"]
    calls = [_call("get_order", {"order_id": o}, f"call_{_token(rng, 12)}") for o in orders]
    calls.insert(rng.randrange(len(calls) + 1), _call("get_customer", {"email": email}, f"call_{_token(rng, 12)}"))
    final = f"All {len(calls)} lookups done ({token})."
    stub.add_rule({"when": {"user_contains": token}, "steps": [{"tool_calls": calls}, {"content": final}]})
    messages = _conversation(rng, f"Check my orders {', '.join(orders)}, please. {email} ref {token}")
    reference = SupportDesk(data)
    expected = [reference.get_order(c["arguments"]["order_id"]) if c["name"] == "get_order"
                else reference.get_customer(email) for c in calls]
    result = _run(nb, stub, messages, _desk_tools(rng), nb.SupportDesk(data).tools(),
                  f"{len(calls)} tool calls in parallel")
    _check_tool_messages(stub, len(messages), calls, expected)
    assert result.get("answer") == final, f"run_agent returned {result.get('answer')!r}; expected {final!r}."


@part("agent-loop", weight=1.5, hint="Count model calls; after max_steps return {'answer': None, 'stopped': "
      "'max_steps', ...} instead of calling the model again, and do not raise.")
def test_step_limit_ends_cleanly(nb, stub, rng):
    data = _world(rng)["data"]
    order_id = rng.choice(_orders(data))
    token = _token(rng)
    limit = rng.randint(2, 5)
    busy = limit + rng.randint(3, 6)
    steps = [{"tool_calls": [_call("get_order", {"order_id": order_id}, f"call_{i}_{_token(rng, 8)}")]}
             for i in range(busy)]
    stub.add_rule({"when": {"user_contains": token}, "steps": [*steps, {"content": f"Finally done {token}."}]})
    result = _run(nb, stub, _conversation(rng, f"Keep checking order {order_id}. ref {token}"),
                  _desk_tools(rng), nb.SupportDesk(data).tools(),
                  f"A model that keeps calling tools, max_steps={limit}", max_steps=limit)
    made = len(_chat(stub))
    assert made <= limit, (
        f"With max_steps={limit} and a model that keeps calling tools, run_agent made {made} model calls: no "
        "step limit. A confused model would loop (and bill) forever.")
    assert made == limit, f"With max_steps={limit}, run_agent stopped after {made} model calls; use all {limit}."
    assert result.get("stopped") == "max_steps" and result.get("answer") is None, (
        f"At the step limit run_agent returned stopped={result.get('stopped')!r}, answer={result.get('answer')!r}; "
        "expected stopped 'max_steps' and answer None.")
    assert result.get("steps") == limit, f"run_agent reported steps={result.get('steps')!r}; expected {limit}."


def _policy_task(rng: random.Random, quirks: tuple[str, ...], kinds: tuple[str, ...]) -> tuple[dict, dict]:
    """A world and one of its tasks on which the stub's policy makes one of *quirks*."""
    while True:  # a world has 32 tasks; the first or second world has one
        world = _world(rng)
        tasks = [t for t in world["tasks"] if t["kind"] in kinds and agent_policy.quirk_for(t["user"]) in quirks]
        if tasks:
            return world, rng.choice(tasks)


@part("agent-loop", hint="Keep calling the model with the growing conversation until a reply has no tool calls.")
def test_a_support_task_end_to_end(nb, stub, rng):
    world, task = _policy_task(rng, ("none", "parallel"), ("status", "cancel", "refund", "policy"))
    desk = nb.SupportDesk(world["data"])
    result = _run(nb, stub, _conversation(rng, task["user"]), _desk_tools(rng), desk.tools(),
                  f"The task {task['user']!r}")
    answer = str(result.get("answer") or "")
    for output in task["outputs"]:
        assert output.lower() in answer.lower(), (
            f"For {task['user']!r} run_agent returned the answer {answer!r}, which lacks {output!r}: the "
            "model's final answer after the tool results.")
    expected = run_actions(world["data"], task["actions"])
    assert desk.snapshot() == expected, (
        f"After {task['user']!r} the store is not in the state the model's tool calls should have left it "
        "in: run every tool call the model makes.")


# -- part 4: guardrails ------------------------------------------------------------------------

def _guarded(nb: Any, data: dict, answers: list[bool]) -> tuple[Any, Any, Any]:
    desk = nb.SupportDesk(data)
    approver = nb.ScriptedApprover(answers)
    return desk, approver, nb.guard_tools(desk.tools(), desk, approver)


def _attempt(functions: Any, name: str, arguments: dict) -> LearnerRaised | None:
    try:
        functions[name](**arguments)
    except LearnerRaised as error:
        unanswered(error)
        return error
    return None


@part("agent-guardrails", weight=1.5, hint="Wrap refund_order and cancel_order: check_allowed, then "
      "`if not approve(name, arguments): raise GuardrailError(...)`, and only then call the tool.")
def test_state_changes_need_confirmation(nb, rng):
    data = _world(rng)["data"]
    delivered = rng.choice([o for o in _orders(data, "delivered") if _refundable(data, o) > 1])
    pending = rng.choice(_orders(data, "pending", "processing"))
    changes = [("refund_order", {"order_id": delivered, "amount": round(_refundable(data, delivered) / 2, 2),
                                 "reason": rng.choice(["damaged", "late"])}),
               ("cancel_order", {"order_id": pending, "reason": "customer_request"})]
    rng.shuffle(changes)
    desk, approver, functions = _guarded(nb, data, [False, True, False, True])
    reference = SupportDesk(data)
    for name, arguments in changes:
        before = desk.snapshot()
        raised = _attempt(functions, name, arguments)
        asked = approver.asked
        assert desk.snapshot() == before, (
            f"{name}({arguments}) ran although the customer did not confirm it"
            + (" (they were never asked): a refund without confirmation." if not asked or asked[-1][0] != name
               else ": the customer said no.") + " Ask approve(name, arguments) and stop on a no.")
        assert asked and asked[-1] == [name, arguments], (
            f"guard_tools asked the customer {asked[-1] if asked else 'nothing'} before {name}({arguments}); "
            "ask approve(name, arguments) with the call's own name and arguments.")
        assert raised is not None and raised.is_a("GuardrailError"), (
            f"When the customer said no, {name} returned normally (or raised "
            f"{raised.type_name if raised else 'nothing'}); raise GuardrailError so the model learns it.")
        raised = _attempt(functions, name, arguments)
        assert raised is None, f"With the customer's yes, {name}({arguments}) raised {raised}."
        getattr(reference, name)(**arguments)
        assert desk.snapshot() == reference.snapshot(), f"With the customer's yes, {name} did not run."
    asked = len(approver.asked)
    order_id = rng.choice(_orders(data))
    assert _attempt(functions, "get_order", {"order_id": order_id}) is None, "A guarded get_order raised."
    assert len(approver.asked) == asked, (
        "guard_tools asked the customer to confirm get_order: only tools that change state need a confirmation.")


def _forbidden(data: dict, rng: random.Random) -> list[tuple[str, str, dict]]:
    delivered = rng.choice([o for o in _orders(data, "delivered") if _refundable(data, o) > 1])
    left = _refundable(data, delivered)
    partly = [o for o in _orders(data, "delivered") if 0 < data["orders"][o]["refunded"] < data["orders"][o]["total"]]
    cases = [
        ("a refund above the amount paid", "refund_order",
         {"order_id": delivered, "amount": round(left + rng.choice([0.01, 5.0, 50.0]), 2), "reason": "damaged"}),
        ("a refund of nothing", "refund_order", {"order_id": delivered, "amount": 0, "reason": "other"}),
        ("a refund whose amount is not a number", "refund_order",
         {"order_id": delivered, "amount": f"{min(left, 1.0):.2f}", "reason": "other"}),
        ("a negative refund", "refund_order",
         {"order_id": delivered, "amount": -round(rng.uniform(1, 20), 2), "reason": "other"}),
        *[(f"a refund of an order that is {status}, not delivered", "refund_order",
           {"order_id": rng.choice(_orders(data, status)), "amount": 1.0, "reason": "late"})
          for status in ("pending", "processing", "shipped")],
        *[(f"cancelling an order that is {status}", "cancel_order",
           {"order_id": rng.choice(_orders(data, status)), "reason": "customer_request"})
          for status in ("shipped", "delivered")],
        ("a refund of an order that does not exist", "refund_order",
         {"order_id": f"ORD-{rng.randint(0, 9999):04d}", "amount": 1.0, "reason": "other"}),
    ]
    if partly:
        order_id = rng.choice(partly)
        order = data["orders"][order_id]
        cases.append(("a refund above the amount paid less earlier refunds", "refund_order",
                      {"order_id": order_id, "amount": round(order["total"] - order["refunded"] / 2, 2),
                       "reason": "damaged"}))
    return cases


@part("agent-guardrails", hint="check_allowed: the order exists; cancel only pending/processing; refund only "
      "delivered orders, 0 < amount <= total - refunded. Check before asking the customer.")
def test_only_allowed_arguments_run(nb, rng):
    data = _world(rng)["data"]
    desk, approver, functions = _guarded(nb, data, [True] * 20)
    cases = _forbidden(data, rng)
    rng.shuffle(cases)
    initial = SupportDesk(data).snapshot()
    for story, name, arguments in cases:
        raised = _attempt(functions, name, arguments)
        assert desk.snapshot() == initial, (
            f"guard_tools let {story} run ({name}({arguments})): the shop's policy forbids it, whatever the "
            "model or the customer says.")
        assert raised is not None and raised.is_a("GuardrailError"), (
            f"For {story} ({name}), the guarded tool "
            + (f"raised {raised.type_name}: {raised.message[:120]}" if raised else "returned normally")
            + "; raise GuardrailError with the reason, so the model can explain it to the customer.")
        assert not approver.asked, (
            f"guard_tools asked the customer to confirm {story} ({approver.asked[-1]}), which the policy forbids "
            "anyway: check the arguments first.")
    refundable = [o for o in _orders(data, "delivered") if _refundable(data, o) > 0]
    delivered = rng.choice([o for o in refundable if round(_refundable(data, o) * 100) % 10] or refundable)
    over = {"order_id": delivered, "amount": round(_refundable(data, delivered) + 0.01, 2), "reason": "wrong_item"}
    raised = _attempt(functions, "refund_order", over)
    assert raised is not None and raised.is_a("GuardrailError"), (
        f"A refund of a cent more than is left ({over['amount']:.2f}; {_refundable(data, delivered):.2f} is left for "
        f"{delivered}) was allowed: the limit is total - refunded rounded to cents, not to fewer decimals.")
    exact = {"order_id": delivered, "amount": _refundable(data, delivered), "reason": "wrong_item"}
    assert _attempt(functions, "refund_order", exact) is None, (
        f"A refund of exactly what is left to refund ({exact['amount']:.2f} for {delivered}) was refused; it is "
        "allowed (at most total - refunded).")
    small = rng.choice([o for o in refundable if o != delivered and _refundable(data, o) >= 1])
    allowed = [("a refund of at most 1.00", "refund_order",
                {"order_id": small, "amount": rng.choice([0.01, 0.5, 1.0]), "reason": "late"}),
               *[(f"cancelling an order that is {status}", "cancel_order",
                  {"order_id": rng.choice(_orders(data, status)), "reason": "customer_request"})
                 for status in ("pending", "processing")]]
    for story, name, arguments in allowed:
        raised = _attempt(functions, name, arguments)
        assert raised is None, (
            f"guard_tools refused {story} ({name}({arguments})), which the policy allows: "
            f"{raised.type_name}: {raised.message[:120]}")


def _usage(stub: Any, body: dict) -> int:
    """The total tokens the stub bills *body* (it is deterministic), asked of its core directly."""
    request = StubRequest.build("POST", CHAT_PATH, {"authorization": f"Bearer {stub.api_key}"},
                                json.dumps(body).encode())
    return json.loads(stub.handle(request).body)["usage"]["total_tokens"]


def _busy_model(stub: Any, rng: random.Random, order_id: str, token: str) -> None:
    """A model that calls get_order a dozen times before it answers."""
    steps = [{"tool_calls": [_call("get_order", {"order_id": order_id}, f"call_{i}_{token}")]} for i in range(12)]
    stub.add_rule({"when": {"user_contains": token}, "steps": [*steps, {"content": "done"}]})


@part("agent-loop", hint="Add up response.usage.total_tokens; before each model call, stop with "
      "stopped 'token_budget' once the total has reached max_total_tokens.")
def test_token_budget(nb, stub, rng):
    data = _world(rng)["data"]
    order_id = rng.choice(_orders(data))
    token = _token(rng)
    messages = _conversation(rng, f"Watch order {order_id}. ref {token}")
    tools, functions = _desk_tools(rng), nb.SupportDesk(data).tools()
    calls = rng.randint(1, 3)
    _busy_model(stub, rng, order_id, token)
    _run(nb, stub, messages, tools, functions, "A model that keeps calling tools", max_steps=calls)
    spent = [_usage(stub, r.body) for r in _chat(stub)[:calls]]  # the same conversation costs the same again
    budget = sum(spent)  # reached exactly after `calls` model calls: the edge of the budget
    stub.reset()
    _busy_model(stub, rng, order_id, token)
    result = _run(nb, stub, messages, tools, functions, f"max_total_tokens={budget}", max_steps=30,
                  max_total_tokens=budget)
    made = len(_chat(stub))
    assert made <= calls + 1, (
        f"run_agent made {made} model calls with max_total_tokens={budget}, though the budget was used up after "
        f"{calls}: it ignored the token budget.")
    assert made == calls and result.get("stopped") == "token_budget", (
        f"With max_total_tokens={budget}, which the first {calls} model call(s) use up exactly, run_agent made "
        f"{made} model calls and returned stopped={result.get('stopped')!r}; stop once the total has reached "
        "the budget (>=), with stopped 'token_budget'.")
    assert result.get("answer") is None, "A run stopped by the budget has no answer (None)."
    assert result.get("steps") == calls and result.get("total_tokens") == budget, (
        f"run_agent reported steps={result.get('steps')!r}, total_tokens={result.get('total_tokens')!r}; it made "
        f"{calls} model call(s) using {budget} tokens (response.usage.total_tokens).")


# -- part 5: the trace -------------------------------------------------------------------------

@part("agent-trace", weight=2, hint="In run_agent, call trace.model_call after each response and "
      "trace.tool_call after each call, failed ones included; time both with time.perf_counter().")
def test_trace_records_every_step(nb, stub, rng):
    data = _world(rng)["data"]
    order_id = rng.choice(_orders(data))
    latency = round(rng.uniform(2.5, 4.0), 3)  # virtual: 0.1% of it (a factor 999 for 1000) is over the tolerance
    desk = nb.SupportDesk(data, {"get_order": latency})
    token = _token(rng)
    unknown = rng.choice(["lookup_order", "order_status", "find_order"])
    calls = [_call("get_order", {"order_id": order_id}, f"call_{_token(rng, 10)}"),
             _call(unknown, {"order_id": order_id}, f"call_{_token(rng, 10)}")]
    final = f"Checked, ref {token}."
    stub.add_rule({"when": {"user_contains": token},
                   "steps": [{"tool_calls": [calls[0]]}, {"tool_calls": [calls[1]]}, {"content": final}]})
    trace = nb.Trace()
    client = make("openai_client", max_retries=0, timeout=10)
    held = round(rng.uniform(0.5, 3.0), 3)  # seconds the API takes to answer first: on the learner's clock
    stub.queue_fault("delay", seconds=held, path=CHAT_PATH, virtual=True)
    started = time.perf_counter()  # the learner's run happens inside this one: nothing else can add more
    try:  # the trace must hold what happened, however the loop ended (the loop has its own checks)
        nb.run_agent(client, _conversation(rng, f"Order {order_id}? ref {token}"), tools=_desk_tools(rng),
                     functions=desk.tools(), model=MODEL, trace=trace)
    except LearnerRaised as error:
        unanswered(error)
    outer_ms = (time.perf_counter() - started) * 1000
    steps = trace.steps
    assert isinstance(steps, list) and all(isinstance(s, dict) for s in steps), (
        f"trace.steps is {steps!r}; keep a list of plain dicts.")
    answered = [r for r in _chat(stub) if r.status == 200]
    usages = [_usage(stub, r.body) for r in answered]
    expected_calls = calls[:len(answered)]
    tools = [s for s in steps if s.get("kind") == "tool"]
    models = [s for s in steps if s.get("kind") == "model"]
    if len(answered) >= 2 and not [s for s in tools if s.get("error")]:
        fail(f"The trace has the tool steps {[(s.get('name'), s.get('error')) for s in tools]}, but the model "
              f"also called {unknown}, which does not exist: the trace lost the failed step, the one you most "
              "need when debugging.")
    assert len(tools) == len(expected_calls), (
        f"The trace has {len(tools)} tool step(s) for the {len(expected_calls)} tool call(s) made; record every "
        "tool call.")
    assert [s.get("step") for s in models] == list(range(1, len(answered) + 1)), (
        f"The trace's model steps are numbered {[s.get('step') for s in models]}; the model answered "
        f"{len(answered)} call(s): expected {list(range(1, len(answered) + 1))}.")
    for model_step, total in zip(models, usages, strict=True):
        tokens = (model_step.get("prompt_tokens") or 0) + (model_step.get("completion_tokens") or 0)
        assert tokens == total, (f"Model step {model_step.get('step')} records {tokens} tokens; the API billed "
                                 f"{total} (response.usage).")
    for model_step, call in zip(models, expected_calls, strict=False):
        assert model_step.get("tool_calls") == [call["name"]], (
            f"Model step {model_step.get('step')} records the tool calls {model_step.get('tool_calls')!r}; "
            f"expected their names, {[call['name']]}.")
    if len(models) == 3:
        assert models[2].get("content") == final, f"The last model step should record the answer {final!r}."
    if models:
        _assert_model_latency(models[0].get("latency_ms"), held, outer_ms)
    for number, (step, call) in enumerate(zip(tools, expected_calls, strict=True), start=1):
        assert step.get("name") == call["name"] and json.loads(step.get("arguments") or "null") == call["arguments"], (
            f"The tool step {step} does not match the call {call}.")
        assert step.get("step") == number, f"The tool step {step} belongs to model step {number}."
        ms = step.get("latency_ms")
        if call["name"] == unknown:
            assert unknown in str(step.get("error")), f"The failed step's error is {step.get('error')!r}."
            assert type(ms) in (int, float) and 0 <= ms < TOOL_SLACK_MS, (
                f"The call of the unknown tool {unknown} took no time (it does not exist), and the trace says "
                f"latency_ms={ms!r}; time each tool call itself with time.perf_counter(), in milliseconds.")
            continue
        assert step.get("error") is None and json.loads(step.get("result")) == SupportDesk(data).get_order(
            order_id), f"The tool step {step} should hold the tool's result and error None."
        assert type(ms) in (int, float) and latency * 1000 - 1 <= ms <= latency * 1000 + TOOL_SLACK_MS, (
            f"get_order took {latency * 1000:.0f} ms, and the trace says latency_ms={ms!r}; time each tool "
            "call itself with time.perf_counter() (in milliseconds), from just before it to just after it.")


TOOL_SLACK_MS = 150  # real time a tool call may add to its virtual sleep; less than the API takes to answer


def _assert_model_latency(ms: Any, held: float, outer_ms: float) -> None:
    """latency_ms of a model call the API took *held* seconds to answer (time the client's
    clock sees pass), inside a run that took *outer_ms* of real time besides."""
    took = f"The first model call took at least {held * 1000:.0f} ms (the API answered after {held} s)"
    assert type(ms) in (int, float), f"{took}, and the trace says latency_ms={ms!r}; record a number of milliseconds."
    assert not ms < held * 0.8, (
        f"{took}, and the trace says latency_ms={ms!r}: time the call with time.perf_counter() before and after "
        "it, and multiply the difference (seconds) by 1000 to get milliseconds, not divide.")
    assert not ms < held * 100, f"{took}, and the trace says latency_ms={ms!r}: that is seconds; multiply by 1000."
    assert held * 1000 - 1 <= ms <= held * 1000 + outer_ms + 1, (
        f"{took}, within a run of {held * 1000 + outer_ms:.0f} ms, and the trace says latency_ms={ms!r}: time the "
        "model call itself, from just before it to just after it, in milliseconds.")


def _results_that_are_not_error_objects(nb: Any) -> None:
    """A tool result that is not JSON, or JSON but not an object, has no error (and must not crash the trace)."""
    trace = nb.Trace()
    results = ["plain text, not JSON", json.dumps("an error string"), json.dumps(["error"])]
    for result in results:
        try:
            trace.tool_call(step=1, name="search_kb", arguments="{}", result=result, latency_ms=1.0)
        except LearnerRaised as error:
            unanswered(error)
            fail(f"trace.tool_call raised {error.type_name} ({error.message[:100]}) for the result {result!r}: only a "
                 "JSON object with an 'error' key is an error; anything else has error None.")
    errors = [step.get("error") for step in trace.steps]
    assert errors == [None] * len(results), (
        f"For the results {results} the trace records the errors {errors}; only a JSON object with an 'error' key is "
        "an error, so each is None.")


def _filled_trace(nb: Any, rng: random.Random) -> tuple[Any, list[dict]]:
    trace = nb.Trace()
    name = rng.choice(["get_order", "search_kb", "refund_order"])
    error = f"{name} failed: LookupError: no order 'ORD-{rng.randint(0, 9999):04d}'"
    calls = [
        ("model", {"step": 1, "latency_ms": round(rng.uniform(50, 900), 3), "prompt_tokens": rng.randint(100, 900),
                   "completion_tokens": rng.randint(5, 60), "content": None, "tool_calls": [name, "get_customer"]}),
        ("tool", {"step": 1, "name": name, "arguments": json.dumps({"order_id": _token(rng)}),
                  "result": json.dumps({"error": error}), "latency_ms": round(rng.uniform(1, 400), 3)}),
        ("tool", {"step": 1, "name": "get_customer", "arguments": json.dumps({"email": "a@example.com"}),
                  "result": json.dumps({"customer_id": "C-1", "name": _token(rng)}), "latency_ms": 2.5}),
        ("model", {"step": 2, "latency_ms": 120.0, "prompt_tokens": rng.randint(100, 900),
                   "completion_tokens": rng.randint(5, 60), "content": f"Answer {_token(rng)}", "tool_calls": []}),
    ]
    for kind, fields in calls:
        (trace.model_call if kind == "model" else trace.tool_call)(**fields)
    expected = []
    for kind, fields in calls:
        step = {"kind": kind, **fields}
        if kind == "tool":
            step["error"] = error if fields["result"] == json.dumps({"error": error}) else None
        expected.append(step)
    return trace, expected


@part("agent-trace", hint="to_json: json.dumps({'steps': self.steps}); load reads it back; render writes one "
      "line per step with the tool's name and ERROR for failed calls.")
def test_trace_saves_and_prints(nb, rng, quick):
    trace, expected = _filled_trace(nb, rng)
    steps = trace.steps
    for got, want in zip(steps, expected, strict=False):
        wrong = {key: got.get(key) for key in want if got.get(key) != want[key] and not (
            key == "latency_ms" and type(got.get(key)) in (int, float) and abs(got[key] - want[key]) < 0.01)}
        assert not wrong, f"A trace step has {wrong}; expected {dict((k, want[k]) for k in wrong)}."
    assert len(steps) == len(expected), (
        f"After 2 model calls and 2 tool calls (one failed) the trace has {len(steps)} steps; the trace lost "
        "the failed step." if len(steps) < len(expected) else f"The trace has {len(steps)} steps; expected 4.")
    text = trace.to_json()
    assert isinstance(text, str) and json.loads(text) == {"steps": steps}, (
        f"trace.to_json() gave {str(text)[:200]!r}; expected JSON of {{'steps': [...]}}.")
    if not quick:
        path = f"trace-check-{_token(rng)}.json"
        trace.save(path)
        loaded = nb.Trace.load(path)
        nb.os.remove(path)
        assert loaded.steps == steps, "Trace.load(path) after trace.save(path) did not give the same steps back."
    _results_that_are_not_error_objects(nb)
    rendered = trace.render()
    lines = [line for line in str(rendered).splitlines() if line.strip()]
    assert len(lines) >= len(steps), f"trace.render() gave {len(lines)} line(s) for {len(steps)} steps."
    if len(lines) == len(steps):  # one line per step: each must show its own step's outcome
        calls, failed_line, ok_line, answer = lines
        shown = {"the tool calls the model made": all(name in calls for name in expected[0]["tool_calls"]),
                 "ERROR on the failed call's line": "ERROR" in failed_line,
                 "the result on the successful call's line, without ERROR": (
                     "C-1" in ok_line and "ERROR" not in ok_line),
                 "the model's answer on its line": expected[-1]["content"] in answer}
        missing = [what for what, ok in shown.items() if not ok]
        assert not missing, f"trace.render() does not show {', '.join(missing)}: {rendered[:400]!r}"
    failed = next(s for s in expected if s.get("error"))
    assert failed["name"] in rendered and "ERROR" in rendered, (
        "trace.render() does not show the failed tool call (its name and 'ERROR'): "
        f"{rendered[:300]!r}")
    for step in (expected[0], expected[-1]):
        assert str(step["prompt_tokens"]) in rendered and str(step["completion_tokens"]) in rendered, (
            "trace.render() does not show the tokens (prompt and completion) of each model call.")


# -- part 6: evaluation by state ---------------------------------------------------------------

def _tasks(world: dict, rng: random.Random, kinds: tuple[str, ...]) -> list[dict]:
    """One task of each kind in *kinds*, no task twice."""
    chosen: list[dict] = []
    for kind in kinds:
        chosen.append(rng.choice([t for t in world["tasks"] if t["kind"] == kind and t not in chosen]))
    return chosen


@part("agent-eval", hint="A fresh SupportDesk(data); run each action's tool with its arguments; return "
      "desk.snapshot().")
def test_expected_state(nb, rng):
    world = _world(rng)
    tasks = _tasks(world, rng, ("refund", "cancel", "refund_refused", "status", "refund"))
    both = {**tasks[0], "id": "T99", "actions": tasks[0]["actions"] + tasks[1]["actions"],
            "user": tasks[0]["user"] + " Also: " + tasks[1]["user"]}
    for task in [*tasks, both]:
        got = nb.expected_state(task, world["data"])
        expected = run_actions(world["data"], task["actions"])
        assert got == expected, (
            f"expected_state for {task['user']!r} (actions {task['actions']}) differs from the store after "
            f"those actions: {json.dumps(got)[:200]}...")


def _difference_cases(rng: random.Random) -> list[tuple[str, Any, Any, list[str]]]:
    """(what, expected, actual, paths that must be named): equal states, and one kind of difference each."""
    order, other = f"ORD-{rng.randint(0, 4999):04d}", f"ORD-{rng.randint(5000, 9999):04d}"
    total = round(rng.uniform(10, 90), 2)
    base = {"orders": {order: {"status": "delivered", "total": total, "refunded": 0.0, "items": ["a", "b"]},
                       other: {"status": "pending", "total": 12.0, "refunded": 0.0, "items": ["c"]}}}

    def changed(**fields: Any) -> dict:
        state = json.loads(json.dumps(base))
        state["orders"][order].update(fields)
        return state

    extra = json.loads(json.dumps(base))
    extra["orders"][order]["note"] = "x"
    return [
        ("equal states", base, json.loads(json.dumps(base)), []),
        ("a float within 1e-6 and an int for a whole float", changed(total=total, refunded=0.0),
         changed(total=total + 1e-9, refunded=0), []),
        ("a changed status", base, changed(status="refunded"), [f"state.orders.{order}.status"]),
        ("a float off by 0.01", base, changed(total=round(total + 0.01, 2)), [f"state.orders.{order}.total"]),
        ("a number that became text", base, changed(refunded="0.0"), [f"state.orders.{order}.refunded"]),
        ("text that became a number", changed(refunded="0.0"), base, [f"state.orders.{order}.refunded"]),
        ("a missing order", base, {"orders": {order: base["orders"][order]}}, [f"state.orders.{other}"]),
        ("an unexpected key", base, extra, [f"state.orders.{order}.note"]),
        ("a list item changed", base, changed(items=["a", "z"]), [f"state.orders.{order}.items[1]"]),
        ("a list one item longer", base, changed(items=["a", "b", "c"]), [f"state.orders.{order}.items"]),
        ("a list that became text", base, changed(items="ab"), [f"state.orders.{order}.items"]),
        ("text that became a list", changed(items="ab"), base, [f"state.orders.{order}.items"]),
        ("an order that became null", base, {"orders": {**base["orders"], order: None}}, [f"state.orders.{order}"]),
        ("a null that became an order", {"orders": {**base["orders"], order: None}}, base, [f"state.orders.{order}"]),
    ]


@part("agent-eval", hint="state_differences: recurse into dicts (keys of both) and equal-length lists (paths like "
      "items[1]); floats within 1e-6; anything else compared with ==, one 'path: expected ..., got ...' each.")
def test_state_differences_name_every_path(nb, rng):
    for what, expected, actual, paths in _difference_cases(rng):
        try:
            got = nb.state_differences(expected, actual)
        except LearnerRaised as error:
            unanswered(error)
            fail(f"state_differences raised {error.type_name} ({error.message[:120]}) for {what}; compare values of "
                 "different types as unequal, never crash.")
        assert type(got) is list, f"state_differences returned {got!r:.100} for {what}; return a list."
        if not paths:
            assert got == [], f"state_differences found {got} for {what}: they are the same state."
            continue
        assert got and all(any(path in str(line) for line in got) for path in paths), (
            f"For {what}, state_differences gave {got}; expected a difference naming {paths}.")
    world = _world(rng)
    task = rng.choice([t for t in world["tasks"] if t["kind"] == "refund" and t["outputs"]])
    right = run_actions(world["data"], task["actions"])
    for run, why, words in [({"state": right, "answer": None, "error": None}, "answer", task["outputs"][:1]),
                            ({"state": SupportDesk(world["data"]).snapshot(), "answer": " ".join(task["outputs"]),
                              "error": None}, "state", ["state.orders"])]:
        verdict = nb.judge(task, world["data"], {"task_id": task["id"], **run})
        reasons = verdict.get("reasons") if isinstance(verdict, dict) else None
        assert isinstance(reasons, list) and reasons and str(reasons[0]).startswith(f"{why}:") and all(
            word in str(reasons[0]) for word in words), (
            f"judge gave the reasons {reasons!r} for a run that fails by its {why}; start the reason with "
            f"'{why}:' and say what differs or is missing ({words}).")


PLAN = [("refund", "claims_without_acting"), ("cancel", "right"), ("refund", "wrong_amount"),
        ("status", "silent"), ("policy", "right"), ("refund_refused", "right"), ("cancel", "crashed"),
        ("refund", "missing"), ("refund", "right"), ("cancel", "claims_without_acting"), ("policy", "silent")]


def _runs(world: dict, rng: random.Random) -> tuple[list[dict], list[dict], dict[str, str]]:
    """Tasks, their runs (right, or wrong in each way an agent goes wrong), and for each task the
    verdict: "" for success, else the word its reason must start with."""
    data = world["data"]
    initial = SupportDesk(data).snapshot()
    plan = rng.sample(PLAN, len(PLAN))
    tasks = _tasks(world, rng, tuple(kind for kind, _ in plan))
    runs, verdicts = [], {}
    for task, (_, way) in zip(tasks, plan, strict=True):
        expected = run_actions(data, task["actions"])
        said = "Sure. " + " and ".join(o.upper() for o in task["outputs"])  # any case will do
        said += f" ({_token(rng)})."
        run = {"task_id": task["id"], "state": expected, "answer": said, "error": None}
        verdict = ""
        if way == "claims_without_acting":
            run["state"], verdict = initial, "state"
        elif way == "wrong_amount":
            action = task["actions"][0]
            wrong = {**action, "arguments": {**action["arguments"], "amount": action["arguments"]["amount"] + 1}}
            run["state"], verdict = run_actions(data, [wrong]), "state"
        elif way == "silent":
            run["answer"], verdict = "All done.", "answer"
        elif way == "crashed":
            run.update(state=initial, answer=None, error="BadRequestError: Error code: 400")
            verdict = "error"
        elif way == "missing":
            verdict = "error"
        if way != "missing":
            runs.append(run)
        verdicts[task["id"]] = verdict
    rng.shuffle(runs)
    return tasks, runs, verdicts


@part("agent-eval", weight=2, hint="Judge by state first (expected_state vs run['state']), then the outputs "
      "in the answer; a crashed or missing run fails. success_rate = successes / tasks.")
def test_evaluate_judges_by_state(nb, rng, quick):
    for _ in range(1 if quick else 2):
        world = _world(rng)
        tasks, runs, verdicts = _runs(world, rng)
        try:
            report = nb.evaluate(tasks, world["data"], runs)
        except LearnerRaised as error:
            unanswered(error)
            fail(f"evaluate raised {error.type_name}: {error.message[:200]} (runs include a crashed run, "
                  "{'error': ...}, and a task with no run).")
        assert isinstance(report, dict), f"evaluate returned {report!r}; return a dict."
        results = report.get("results")
        assert isinstance(results, list) and [r.get("task_id") for r in results] == [t["id"] for t in tasks], (
            "evaluate's results must have one judgement per task, in task order.")
        for result, task in zip(results, tasks, strict=True):
            verdict = verdicts[task["id"]]
            run = next((r for r in runs if r["task_id"] == task["id"]), None)
            if verdict == "state" and result.get("success"):
                fail(f"evaluate judged {task['id']} ({task['user']!r}) a success from its final answer "
                      f"({run['answer']!r}), but the store is not in the expected state: success judged by the "
                      "final text instead of the state. Models claim actions they never took.")
            assert bool(result.get("success")) == (verdict == ""), (
                f"evaluate judged {task['id']} success={result.get('success')!r}; expected "
                f"{verdict == ''} ({'a correct run' if not verdict else 'it failed by ' + verdict}: run {run}).")
            reasons = result.get("reasons")
            if verdict:
                assert isinstance(reasons, list) and reasons and str(reasons[0]).lower().startswith(verdict + ":"), (
                    f"The reasons for {task['id']}'s failure are {reasons!r}; expected a reason starting with "
                    f"{verdict!r} and a colon.")
        expected_rate = sum(v == "" for v in verdicts.values()) / len(tasks)
        rate = report.get("success_rate")
        assert type(rate) in (int, float) and math.isclose(rate, expected_rate), (
            f"evaluate's success_rate is {rate!r}; {sum(v == '' for v in verdicts.values())} of {len(tasks)} "
            f"tasks succeeded ({expected_rate:.3f}).")
        failures = report.get("failures")
        assert isinstance(failures, list) and [f.get("task_id") for f in failures] == [
            t["id"] for t in tasks if verdicts[t["id"]]], "evaluate's failures must be the failed results, in order."
        table = nb.failure_table(report)
        rows = [line for line in str(table).splitlines() if line.strip().startswith("|")]
        assert len(rows) == len(failures) + 2 and all(f["task_id"] in table for f in failures), (
            f"failure_table gave {str(table)[:300]!r}; expected a header, a separator and one row per failure.")
