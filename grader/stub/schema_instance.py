"""JSON Schema helpers: a deterministic valid instance, a deliberate violation, strict-mode rules.

The default answer for ``response_format: json_schema`` (and for tool arguments) is a valid
instance; ``strict_schema_error`` enforces the rules the real API applies to ``strict: true``
schemas, with its wording, so learners meet those errors offline first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

StringHint = Callable[[str], str | None]
"""Given a property name, a sensible string for it (or None for a placeholder)."""

_MAX_DEPTH = 8


def _resolve(schema: dict, root: dict) -> dict:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    node: Any = root
    for part in ref[2:].split("/"):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def _first_type(schema: dict) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        non_null = [k for k in kind if k != "null"]
        return non_null[0] if non_null else "null"
    if kind is None and "properties" in schema:
        return "object"
    return kind


def instance_for(schema: dict, hint: StringHint | None = None) -> Any:
    """A value that validates against ``schema`` (the common subset: objects, arrays, scalars,
    enums, const, anyOf/oneOf/allOf, local ``$ref``), the same every time for the same input."""
    return _instance(schema, schema, hint or (lambda _name: None), "value", 0)


def _instance(schema: dict, root: dict, hint: StringHint, name: str, depth: int) -> Any:
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            options = [_resolve(o, root) for o in schema[key]]
            # Past the depth limit prefer a null branch so recursive schemas terminate.
            if depth >= _MAX_DEPTH:
                options.sort(key=lambda o: _first_type(o) != "null")
            return _instance(options[0], root, hint, name, depth + 1)
    if schema.get("allOf"):
        merged: dict = {}
        for part in schema["allOf"]:
            part = _resolve(part, root)
            merged.update({k: v for k, v in part.items() if k not in ("properties", "required")})
            merged.setdefault("properties", {}).update(part.get("properties", {}))
            merged["required"] = [*merged.get("required", []), *part.get("required", [])]
        return _instance(merged, root, hint, name, depth + 1)
    kind = _first_type(schema)
    if kind == "object":
        props = schema.get("properties", {})
        wanted = props if depth < _MAX_DEPTH else {k: props[k] for k in schema.get("required", []) if k in props}
        return {key: _instance(sub, root, hint, key, depth + 1) for key, sub in wanted.items()}
    if kind == "array":
        count = max(int(schema.get("minItems", 1)), 1) if depth < _MAX_DEPTH else int(schema.get("minItems", 0))
        items = schema.get("items", {})
        return [_instance(items, root, hint, name, depth + 1) for _ in range(count)]
    if kind == "integer":
        return _number(schema, integer=True)
    if kind == "number":
        return _number(schema, integer=False)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, hint(name))


def _number(schema: dict, *, integer: bool) -> int | float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    value: float = 1
    if low is not None:
        value = low + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
    elif high is not None and high < 1:
        value = high - 1
    return int(value) if integer else float(value)


_FORMATS = {
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def _string(schema: dict, hinted: str | None) -> str:
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    text = hinted if hinted is not None else "example"
    low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
    if len(text) < low:
        text = text + "x" * (low - len(text))
    if high is not None:
        text = text[: int(high)]
    return text


def violating_instance(schema: dict | None, hint: StringHint | None = None) -> Any:
    """Valid JSON that breaks ``schema``: a required property removed, or the wrong type.

    Without a schema (``json_object`` mode) it is a JSON array, since an object was asked for.
    """
    if not schema:
        return ["not", "an", "object"]
    value = instance_for(schema, hint)
    root = _resolve(schema, schema)
    if isinstance(value, dict) and root.get("required"):
        value.pop(root["required"][0], None)
        return value
    if isinstance(value, dict) and value:
        key = next(iter(value))
        value[key] = {"unexpected": [value[key]]}
        return value
    return {"unexpected": value} if not isinstance(value, dict) else ["not", "an", "object"]


UNSUPPORTED_KEYWORDS = frozenset({
    "minLength", "maxLength", "patternProperties", "propertyNames", "minProperties", "maxProperties",
    "unevaluatedProperties", "unevaluatedItems", "contains", "minContains", "maxContains", "uniqueItems",
    "not", "if", "then", "else", "dependentRequired", "dependentSchemas",
})
"""Keywords the real API refuses in a strict schema ("... 'minLength' is not permitted.")."""


def strict_schema_error(schema: Any) -> str | None:
    """The real API's complaint about a ``strict: true`` schema, or None if it follows the rules:
    the root is an object; every object lists all its properties in ``required`` and sets
    ``additionalProperties: false``; no keyword strict mode does not support is used."""
    if not isinstance(schema, dict):
        return "schema must be a JSON Schema of 'type: \"object\"'."
    root_type = _resolve(schema, schema).get("type")
    if root_type != "object":
        return f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{root_type}\"'."
    return _strict_walk(schema, ())


def _strict_walk(node: Any, context: tuple[str, ...]) -> str | None:
    if isinstance(node, list):
        for index, item in enumerate(node):
            if problem := _strict_walk(item, (*context, str(index))):
                return problem
        return None
    if not isinstance(node, dict):
        return None
    where = f"In context={context}, "
    unsupported = [key for key in node if key in UNSUPPORTED_KEYWORDS]
    if unsupported:
        return where + f"'{unsupported[0]}' is not permitted."
    is_object = node.get("type") == "object" or (isinstance(node.get("type"), list) and "object" in node["type"])
    if is_object or "properties" in node:
        if node.get("additionalProperties") is not False:
            return where + "'additionalProperties' is required to be supplied and to be false."
        props = node.get("properties", {})
        required = node.get("required")
        if not isinstance(required, list) or any(key not in required for key in props):
            missing_keys = [key for key in props if not isinstance(required, list) or key not in required]
            return (
                where + "'required' is required to be supplied and to be an array including every key in "
                "properties. Missing " + ", ".join(f"'{key}'" for key in missing_keys) + "."
            )
    for key in ("properties", "$defs", "definitions"):
        for name, sub in (node.get(key) or {}).items():
            if problem := _strict_walk(sub, (*context, key, name)):
                return problem
    for key in ("items", "anyOf", "allOf", "oneOf"):
        if key in node and (problem := _strict_walk(node[key], (*context, key))):
            return problem
    return None
