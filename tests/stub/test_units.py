"""The pieces under the endpoints: schema instances, strict rules, the answerer, rule checking."""

from __future__ import annotations

import jsonschema
import pytest

from grader.stub.answerer import ABSTAIN, extractive_answer, passages
from grader.stub.scenario import Rule
from grader.stub.schema_instance import instance_for, strict_schema_error, violating_instance

SCHEMAS = [
    {
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": 5}, "s": {"type": "string", "minLength": 12}},
    },
    {"type": "array", "items": {"type": "number", "maximum": -3}, "minItems": 2},
    {"type": "object", "properties": {"when": {"type": "string", "format": "date"}, "tag": {"enum": ["x", "y"]}}},
    {"type": "object", "properties": {"v": {"anyOf": [{"type": "null"}, {"type": "boolean"}]}}, "required": ["v"]},
    {
        "$defs": {
            "node": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}
        },
        "$ref": "#/$defs/node",
    },
    {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}}, {"properties": {"b": {"const": 3}}}]},
    {"type": ["string", "null"], "maxLength": 3},
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_instance_validates(schema: dict) -> None:
    jsonschema.validate(instance_for(schema), schema)


def test_instance_is_deterministic_and_uses_hints() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    assert instance_for(schema, lambda name: "Oslo" if name == "city" else None) == {"city": "Oslo"}
    assert instance_for(schema) == instance_for(schema) == {"city": "example"}


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
        {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}},
        None,
    ],
)
def test_violation_breaks_the_schema(schema: dict | None) -> None:
    bad = violating_instance(schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema or {"type": "object"})


def test_strict_rules() -> None:
    good = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": False}
    assert strict_schema_error(good) is None
    assert "got 'type: \"array\"'" in (strict_schema_error({"type": "array"}) or "")
    nested = {**good, "properties": {"a": {"type": "array", "items": {"type": "object", "properties": {}}}}}
    assert strict_schema_error(nested) == (
        "In context=('properties', 'a', 'items'), 'additionalProperties' is required to be supplied and to be false."
    )


def test_passage_formats_and_abstention() -> None:
    assert passages('<doc id="d1">Alpha beta.</doc><doc id="d2">Gamma.</doc>') == [
        ("d1", "Alpha beta."),
        ("d2", "Gamma."),
    ]
    assert passages("Document 3: Water boils\nat 100 C.\n\nQuestion: x") == [("3", "Water boils at 100 C.")]
    assert extractive_answer("[1] Water boils at 100 C.", "What is the capital of Peru?") == ABSTAIN
    assert extractive_answer("no passages here", "anything?") is None
    long = "[p] " + "Filler sentence about nothing. " * 12 + "Water boils at 100 C. " + "More filler here. " * 5
    assert extractive_answer(long, "When does water boil?") == "Water boils at 100 C. [p]"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"when": {}, "reply": {"content": "x"}, "extra": 1}, "unknown rule keys"),
        ({"when": {"user_contains": 3}, "reply": {"content": "x"}}, "string or a list of strings"),
        ({"when": {}}, "either 'reply' or 'steps'"),
        ({"when": {}, "steps": []}, "non-empty"),
        ({"when": {}, "reply": {"json": 1, "refusal": "no"}}, "exactly one of"),
        ({"when": {}, "reply": {"tool_calls": [{"arguments": {}}]}}, "need a 'name'"),
    ],
)
def test_rule_mistakes_fail_loudly(rule: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Rule.from_dict(rule)
