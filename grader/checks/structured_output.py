"""Checks for pillar 2, structured output (``solutions/02_structured_output.ipynb``).

The stub's replies are scripted per check (a valid booking, a fenced one, one with a wrong
type, a refusal, a cut-off reply), so each part is judged on exactly the case it is about;
what reached the API comes from the stub's request log. Inputs are drawn from ``rng``: random
bookings, schemas, JSON documents, dates and phrasings, always with the edge cases included.
Where a part builds on another part's function, a check first asks whether that function
works, and judges only its own part's behaviour when it does not.

PYTEST_DONT_REWRITE: feedback is the assert message as written, under pytest too.
"""

from __future__ import annotations

import calendar
import copy
import json
import math
import random
import string
from datetime import date, timedelta
from typing import Any

from grader.checks import LearnerRaised, fail, make, part, unanswered
from grader.engine.remote import LearnerObject
from grader.stub.schema_instance import strict_schema_error

MODEL = "gpt-4o-mini"
CHAT_PATH = "/v1/chat/completions"
FIELDS = ("date", "time", "people", "first_name", "last_name")
SLOTS = FIELDS
MAX_PEOPLE, MAX_NAME = 50, 40
NAMES = ["Delila", "Byles", "Ronnie", "Vitello", "Fatimah", "Yann", "Aleta", "Gerpheide", "Shelba", "Tansley",
         "Earleen", "Solanki", "Reynaldo", "Morring", "Lory", "Ditmore", "O'Brien", "De La Cruz"]
STRIPPED = {"default", "minLength", "maxLength", "uniqueItems", "contains", "minContains", "maxContains",
            "patternProperties", "propertyNames", "minProperties", "maxProperties", "unevaluatedProperties",
            "unevaluatedItems"}
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


# -- helpers ---------------------------------------------------------------------------------



def _token(rng: random.Random, n: int = 8) -> str:
    return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def _chat_requests(stub: Any) -> list:
    return [r for r in stub.requests if r.path == CHAT_PATH]


def _booking(rng: random.Random, *, full: bool = False) -> dict:
    """A random valid booking (canonical values), with `mentioned` consistent with it."""
    day = date(2018, 1, 1) + timedelta(days=rng.randrange(900))
    values = {"date": day.isoformat(), "time": f"{rng.randrange(24):02d}:{rng.choice([0, 15, 30, 45]):02d}",
              "people": rng.choice([1, MAX_PEOPLE, rng.randint(2, 20)]),
              "first_name": rng.choice(NAMES[::2]), "last_name": rng.choice(NAMES[1::2])}
    booking = {field: value if full or rng.random() < 0.6 else None for field, value in values.items()}
    booking["mentioned"] = [field for field in FIELDS if booking[field] is not None]
    return booking


def _utterance(rng: random.Random) -> tuple[str, str]:
    token = _token(rng)
    return token, f"Hi, booking ref {token}: {rng.choice(['a table please', 'can you book us in?', 'change it'])}"


def _dump(value: Any) -> Any:
    """A learner Booking as a plain dict (None if it is not a model)."""
    if not isinstance(value, LearnerObject):
        return None
    try:
        return value.model_dump()
    except LearnerRaised as error:
        unanswered(error)
        return None


def _reference(rng: random.Random) -> date:
    return date(2015, 1, 1) + timedelta(days=rng.randrange(365 * 14))


def _call(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, LearnerRaised | None]:
    """(result, None) or (None, the error) of a learner call."""
    try:
        return function(*args, **kwargs), None
    except LearnerRaised as error:
        unanswered(error)
        return None, error


# -- part 1: the model and the strict schema ---------------------------------------------------

def _invalid_bookings(rng: random.Random) -> list[tuple[str, dict]]:
    base = _booking(rng, full=True)
    cases = [
        ("people 0", {**base, "people": 0}),
        (f"people {MAX_PEOPLE + 1} (above MAX_PEOPLE)", {**base, "people": MAX_PEOPLE + 1}),
        ("people 'several'", {**base, "people": "several"}),
        (f"a first name of {MAX_NAME + 1} characters", {**base, "first_name": "A" * (MAX_NAME + 1)}),
        (f"a last name of {MAX_NAME + 1} characters", {**base, "last_name": "B" * (MAX_NAME + 1)}),
        ("'party_size' in mentioned (not a Slot)", {**base, "mentioned": ["date", "party_size"]}),
        ("mentioned as a string", {**base, "mentioned": "date"}),
        ("an extra key 'notes'", {**base, "notes": "window seat"}),
    ]
    cases += [(f"no '{field}' key", {k: v for k, v in base.items() if k != field}) for field in (*FIELDS, "mentioned")]
    return cases


@part("so-schema", weight=1.5, hint="All six fields without defaults (Field(...) with constraints: ge=1, "
      "le=MAX_PEOPLE, max_length=MAX_NAME), `mentioned: list[Slot]`, and model_config = ConfigDict(extra='forbid').")
def test_booking_accepts_valid_and_rejects_invalid(nb, rng, quick):
    bookings = [_booking(rng, full=True), {**_booking(rng), "first_name": "N" * MAX_NAME}]
    bookings += [_booking(rng) for _ in range(1 if quick else 3)]
    bookings.append({**dict.fromkeys(FIELDS), "mentioned": []})
    for booking in bookings:
        got, error = _call(nb.Booking.model_validate, booking)
        if error is not None:
            fail(f"Booking.model_validate({booking}) raised {error.type_name}: {error.message[:300]}; it is a valid "
                  "booking.")
        assert _dump(got) == booking, f"Booking.model_validate({booking}) gave {_dump(got)}."
    for described, bad in _invalid_bookings(rng):
        got, error = _call(nb.Booking.model_validate, bad)
        assert error is not None, (
            f"Booking accepted a reply with {described}: {bad}. Downstream code would get it as a valid booking; "
            "the model must reject it" + (" (fields have no defaults: a left-out field is a mistake)."
                                          if described.startswith("no ") else "."))
        assert error.is_a("ValidationError"), (
            f"For a reply with {described}, Booking raised {error.type_name}, not pydantic's ValidationError.")


def _accepts_null(schema: dict) -> bool:
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    return any(_accepts_null(option) for option in schema.get("anyOf", []) if isinstance(option, dict))


def _expected_strict(schema: Any) -> Any:
    """The kit's own strict_schema: what the notebook's part 1 asks for."""
    if isinstance(schema, list):
        return [_expected_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {}
    for key, value in schema.items():
        if key in STRIPPED:
            continue
        if key in ("properties", "$defs"):
            result[key] = {name: _expected_strict(sub) for name, sub in value.items()}
        else:
            result[key] = _expected_strict(value)
    if result.get("type") == "object" or "properties" in result:
        properties = result.get("properties", {})
        for name, sub in properties.items():
            if name not in schema.get("required", []) and not _accepts_null(sub):
                properties[name] = {"anyOf": [sub, {"type": "null"}]}
        result["required"] = list(properties)
        result["additionalProperties"] = False
    return result


def _canonical(schema: Any) -> Any:
    """One spelling of each schema: `type: [t, "null"]` and anyOf with null in either order alike,
    `required` as a sorted list."""
    if isinstance(schema, list):
        return [_canonical(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    node = {}
    for key, value in schema.items():
        if key == "required" and isinstance(value, list):
            node[key] = sorted(map(str, value))
        elif key in ("properties", "$defs") and isinstance(value, dict):
            node[key] = {name: _canonical(sub) for name, sub in value.items()}
        else:
            node[key] = _canonical(value)
    kind = node.get("type")
    if isinstance(kind, list) and "null" in kind and len(kind) == 2:
        return {"$nullable": {**node, "type": next(k for k in kind if k != "null")}}
    options = node.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options and len(node) == 1:
        return {"$nullable": next(o for o in options if o != {"type": "null"})}
    return node


def _first_difference(got: Any, want: Any, path: tuple = ()) -> tuple[tuple, Any, Any] | None:
    if isinstance(got, dict) and isinstance(want, dict):
        for key in sorted(set(got) | set(want), key=str):
            if key not in got or key not in want:
                return (*path, key), got.get(key, "<missing>"), want.get(key, "<missing>")
            found = _first_difference(got[key], want[key], (*path, key))
            if found:
                return found
        return None
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        for index, (a, b) in enumerate(zip(got, want, strict=True)):
            found = _first_difference(a, b, (*path, index))
            if found:
                return found
        return None
    return None if got == want else (path, got, want)


def _random_schema(rng: random.Random, depth: int = 0) -> dict:
    """A random object schema: nested objects in properties, items, anyOf and $defs, optional
    properties (some already nullable), unsupported keywords, and properties named like keywords."""
    names = rng.sample(["city", "count", "tags", "default", "minLength", "owner", "note", "items", "when", "score"],
                       rng.randint(2, 4))
    properties: dict[str, Any] = {}
    for name in names:
        roll = rng.random()
        if depth < 2 and roll < 0.25:
            sub = _random_schema(rng, depth + 1)
        elif depth < 2 and roll < 0.4:
            sub = {"type": "array", "items": _random_schema(rng, depth + 1), "maxItems": 5}
            if rng.random() < 0.5:
                sub["uniqueItems"] = True
        elif roll < 0.55:
            sub = rng.choice([{"anyOf": [{"type": "string", "maxLength": 30}, {"type": "null"}], "default": None},
                              {"type": ["string", "null"], "description": "already nullable"}])
        elif roll < 0.7:
            sub = {"type": "integer", "minimum": rng.randint(0, 3), "maximum": rng.randint(10, 99),
                   "description": f"a number {_token(rng, 3)}"}
        elif roll < 0.85:
            sub = {"type": "string", "enum": ["a", "b", _token(rng, 3)], "title": name.title()}
        else:
            sub = {"type": "string", "minLength": 1, "pattern": "^[a-z]+$", "default": "x"}
        properties[name] = sub
    if depth == 0:
        properties["maybe"] = {"type": ["integer", "null"]}  # optional, and already nullable: no wrapping
        properties["either"] = {"type": ["string", "integer"]}  # optional, a list of types without null: wrap it
        properties["extra"] = rng.choice([{"type": "object", "description": "free-form"},
                                          {"properties": {"k": {"type": "string"}}, "required": ["k"]}])
    schema: dict[str, Any] = {"type": "object", "properties": properties, "title": f"Thing{depth}"}
    required = [name for name in names if rng.random() < 0.5]
    if required:
        schema["required"] = required
    if rng.random() < 0.3:
        schema["additionalProperties"] = True
    if rng.random() < 0.3:
        schema["minProperties"] = 1
    return schema


def _schema_mistake(got: dict, schema: dict) -> str | None:
    """Name the mistake a strict_schema result shows, for the feedback."""
    def walk(node: Any, original: Any, path: tuple) -> str | None:
        if isinstance(node, list) and isinstance(original, list):
            for index, (a, b) in enumerate(zip(node, original, strict=False)):
                if found := walk(a, b, (*path, index)):
                    return found
            return None
        if not isinstance(node, dict) or not isinstance(original, dict):
            return None
        keywords = sorted(set(node) & STRIPPED)
        if keywords:
            return f"at {path or 'the root'} it kept {keywords[0]!r}, a keyword strict mode refuses"
        if "properties" in original or original.get("type") == "object":
            names = list(original.get("properties", {}))
            if node.get("additionalProperties") is not False:
                return (f"the object at {path or 'the root'} does not set additionalProperties: false (the model may "
                        "add any key it likes, and strict mode refuses the schema)")
            if sorted(node.get("required") or []) != sorted(names):
                return (f"the object at {path or 'the root'} has required {node.get('required')}, not every "
                        f"property {names}: strict mode wants every property required, optional ones as nullable")
            if sorted(node.get("properties", {})) != sorted(names):
                return (f"the object at {path or 'the root'} has properties {sorted(node.get('properties', {}))}; "
                        f"it should keep exactly {sorted(names)} (property names are names, not keywords)")
            for name in names:
                sub, before = node["properties"][name], original["properties"][name]
                optional = name not in original.get("required", [])
                if optional and not _accepts_null(sub):
                    return (f"the optional property {name!r} at {path or 'the root'} does not accept null: in strict "
                            "mode an optional field must be nullable, since it is always required")
                if not optional and _accepts_null(sub) and not _accepts_null(before):
                    return f"the required property {name!r} at {path or 'the root'} was made nullable"
        for key, value in node.items():
            if key in ("properties", "$defs") and isinstance(value, dict):
                for name, sub in value.items():
                    before = original.get(key, {}).get(name)
                    while (isinstance(sub, dict) and isinstance(sub.get("anyOf"), list) and sub["anyOf"]
                           and isinstance(before, dict) and "anyOf" not in before):
                        sub = sub["anyOf"][0]
                    if found := walk(sub, before, (*path, key, name)):
                        return found
            elif key in ("items", "anyOf") and (found := walk(value, original.get(key), (*path, key))):
                return found
        return None

    return walk(got, schema, ())


@part("so-schema", weight=2, hint="Recurse through dicts and lists; skip UNSUPPORTED keys (but not property "
      "names); for each object set additionalProperties False, required = every property, and wrap a property "
      "that was not required as {'anyOf': [schema, {'type': 'null'}]} unless it already accepts null.")
def test_strict_schema_follows_the_rules(nb, rng, quick):
    schemas = [_random_schema(rng) for _ in range(2 if quick else 4)]
    nested = _random_schema(rng, 1)
    schemas.append({"type": "object", "properties": {"main": {"$ref": "#/$defs/Inner"}, "default": {"type": "string"}},
                    "required": ["main"], "$defs": {"Inner": nested, "minLength": {"type": "integer"}}})
    for schema in schemas:
        before = copy.deepcopy(schema)
        got, error = _call(nb.strict_schema, schema)
        if error is not None:
            fail(f"strict_schema raised {error.type_name}: {error.message[:200]} for the schema {json.dumps(schema)}")
        assert isinstance(got, dict), f"strict_schema returned {got!r}; return a new schema dict."
        mistake = _schema_mistake(got, schema)
        if mistake:
            fail(f"strict_schema({json.dumps(schema)}) returned {json.dumps(got)}: {mistake}.")
        problem = strict_schema_error(got)
        assert problem is None, f"strict mode would refuse strict_schema's result: {problem}"
        difference = _first_difference(_canonical(got), _canonical(_expected_strict(before)))
        assert difference is None, (
            f"strict_schema({json.dumps(before)}) differs from what part 1 asks for at {difference[0]}: it has "
            f"{json.dumps(difference[1])}, expected {json.dumps(difference[2])} (keep every other keyword as it is).")


def _validates(schema: dict, value: Any, root: dict | None = None) -> bool:
    """Whether *value* is valid for *schema*: the subset strict mode uses."""
    root = root or schema
    if "$ref" in schema:
        target: Any = root
        for key in schema["$ref"][2:].split("/"):
            target = target.get(key, {})
        return _validates(target, value, root)
    if "anyOf" in schema and not any(_validates(option, value, root) for option in schema["anyOf"]):
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        checks = {"null": value is None, "string": isinstance(value, str), "boolean": isinstance(value, bool),
                  "integer": isinstance(value, int) and not isinstance(value, bool),
                  "number": isinstance(value, (int, float)) and not isinstance(value, bool),
                  "object": isinstance(value, dict), "array": isinstance(value, list)}
        if not any(checks.get(k, False) for k in kinds):
            return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return False
        if "maximum" in schema and value > schema["maximum"]:
            return False
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        if any(key not in value for key in schema.get("required", [])):
            return False
        if schema.get("additionalProperties") is False and set(value) - set(properties):
            return False
        if not all(_validates(properties[k], v, root) for k, v in value.items() if k in properties):
            return False
    if isinstance(value, list) and "items" in schema:
        return all(_validates(schema["items"], item, root) for item in value)
    return True


@part("so-schema", hint="booking_format() returns {'type': 'json_schema', 'json_schema': {'name': 'booking', "
      "'strict': True, 'schema': strict_schema(Booking.model_json_schema())}}.")
def test_booking_format_is_accepted_and_strict(nb, stub, rng):
    form = nb.booking_format()
    assert isinstance(form, dict) and form.get("type") == "json_schema", (
        f"booking_format() returned {form!r}; return a dict with type 'json_schema'.")
    spec = form.get("json_schema")
    assert isinstance(spec, dict) and spec.get("name") == "booking" and isinstance(spec.get("schema"), dict), (
        f"booking_format()['json_schema'] is {spec!r}; it needs name 'booking' and the schema.")
    assert spec.get("strict") is True, (
        "booking_format() does not set strict: True: without it the schema is only a hint the model may ignore.")
    schema = spec["schema"]
    problem = strict_schema_error(schema)
    assert problem is None, (
        f"The API refuses booking_format() with a 400: Invalid schema for response_format 'booking': {problem}")
    assert sorted(schema.get("properties", {})) == sorted([*FIELDS, "mentioned"]), (
        f"The booking schema has properties {sorted(schema.get('properties', {}))}; it needs the six Booking fields.")
    undescribed = [name for name, sub in schema["properties"].items()
                   if not (sub.get("description") or any(o.get("description") for o in sub.get("anyOf", [])))]
    assert not undescribed, (
        f"The booking schema has no description for {undescribed}: the model reads the descriptions; say what "
        "each field holds (and in which format).")
    for booking in (_booking(rng, full=True), _booking(rng), {**dict.fromkeys(FIELDS), "mentioned": []}):
        assert _validates(schema, booking), f"The booking schema rejects the valid booking {booking}."
    base = _booking(rng, full=True)
    for described, bad in [("people 0", {**base, "people": 0}), ("people 51", {**base, "people": MAX_PEOPLE + 1}),
                           ("people '4'", {**base, "people": "4"}),
                           ("'party_size' in mentioned", {**base, "mentioned": ["party_size"]}),
                           ("an extra key", {**base, "notes": "x"}),
                           ("no 'time' key", {k: v for k, v in base.items() if k != "time"})]:
        assert not _validates(schema, bad), (
            f"The booking schema accepts a reply with {described}: strict decoding would let the model produce it. "
            "Keep the constraints pydantic puts in the schema (minimum, maximum, enum).")


# -- part 2: one call with structured output -----------------------------------------------------

def _completion(stub: Any, rng: random.Random, reply: dict, *, fault: str | None = None) -> Any:
    """A real ChatCompletion made on the learner's side, carrying the scripted *reply*."""
    token, text = _utterance(rng)
    stub.add_rule({"when": {"any_contains": token}, "reply": reply})
    if fault:
        stub.queue_fault(fault)
    request = {"model": MODEL, "messages": [{"role": "user", "content": text + " Reply in JSON."}],
               "response_format": {"type": "json_object"}, "max_tokens": 400}
    return make("chat_completion", request=request)


def _format_is_usable(nb: Any) -> bool:
    """Whether the learner's booking_format() passes strict mode (part 1's job)."""
    try:
        form = nb.booking_format()
        return strict_schema_error(form["json_schema"]["schema"]) is None
    except (LearnerRaised, KeyError, TypeError):
        return False


@part("so-call", weight=1.5, hint="Check message.refusal first (raise Refused(refusal)), then finish_reason == "
      "'length' (raise Truncated), and only then return message.content.")
def test_reply_text_handles_refusal_and_truncation(nb, stub, rng):
    booking = _booking(rng, full=True)
    text = json.dumps(booking, indent=rng.choice([None, 2])) + "\n"
    got, error = _call(nb.reply_text, _completion(stub, rng, {"content": text}))
    if error is not None:
        fail(f"reply_text raised {error.type_name} ({error.message[:150]}) for a complete reply {text}.")
    assert got == text, f"reply_text returned {got!r} for a complete reply; expected its content as it is, {text!r}."
    got, error = _call(nb.reply_text, _completion(stub, rng, {"content": ""}))
    assert error is None and got == "", (
        f"reply_text {'raised ' + error.type_name if error else 'returned ' + repr(got)} for an empty reply; return "
        "message.content as it is (''), so that parsing it fails as an invalid reply.")
    refusal = f"I'm sorry, I can't help with booking {_token(rng, 5)}."
    got, error = _call(nb.reply_text, _completion(stub, rng, {"refusal": refusal}))
    assert error is not None, (
        f"reply_text returned {got!r} for a refusal: it ignores refusals (message.refusal is set and content is "
        "null). Raise Refused, so callers can tell 'the model declined' from 'the reply was empty'.")
    assert error.is_a("Refused") and refusal in error.message, (
        f"For a refusal, reply_text raised {error.type_name}: {error.message[:150]}; raise Refused with the model's "
        "refusal text as the message.")
    long_reply = json.dumps({**booking, "mentioned": list(FIELDS) * 3})
    got, error = _call(nb.reply_text, _completion(stub, rng, {"content": long_reply}, fault="truncate"))
    assert error is not None, (
        f"reply_text returned {got!r} for a reply cut off at the token limit (finish_reason 'length'): it treats a "
        "truncated reply as complete. Raise Truncated.")
    assert error.is_a("Truncated"), (
        f"For a reply cut off at the token limit, reply_text raised {error.type_name}: {error.message[:150]}; "
        "check finish_reason == 'length' and raise Truncated before parsing anything.")


@part("so-call", weight=1.5, hint="client.chat.completions.create(model=model, messages=booking_messages(text, "
      "reference_date, requested), response_format=booking_format(), temperature=0), then "
      "Booking.model_validate_json(reply_text(response)).")
def test_extract_booking_makes_one_structured_call(nb, stub, rng):
    booking = _booking(rng)
    token, text = _utterance(rng)
    reference = _reference(rng).isoformat()
    requested = rng.choice([[], ["people"], ["first_name", "last_name"]])
    stub.add_rule({"when": {"any_contains": token}, "reply": {"content": json.dumps(booking)}})
    client = make("openai_client", max_retries=0, timeout=5)
    usable = _format_is_usable(nb)
    got, error = _call(nb.extract_booking, client, text, reference_date=reference, requested=requested, model=MODEL)
    sent = _chat_requests(stub)
    assert len(sent) == 1, f"extract_booking made {len(sent)} API requests; make exactly one."
    body = sent[0].body
    assert body.get("response_format") == nb.booking_format(), (
        f"extract_booking sent response_format {json.dumps(body.get('response_format'))[:200]}; send booking_format().")
    assert body.get("messages") == nb.booking_messages(text, reference, requested), (
        "extract_booking did not send booking_messages(text, reference_date, requested): the model needs today's "
        "date and what was asked to read 'tomorrow' or a bare '3'.")
    assert body.get("temperature") == 0, f"extract_booking sent temperature {body.get('temperature')!r}; use 0."
    assert body.get("model") == MODEL, f"extract_booking ignored its model argument (sent {body.get('model')!r})."
    if not usable:  # part 1's schema is refused with a 400: all this part can ask is that it surfaces
        assert error is not None and error.is_a("BadRequestError"), (
            "The API refused booking_format() with a 400, but extract_booking did not raise the BadRequestError.")
        return
    if error is not None:
        fail(f"extract_booking raised {error.type_name}: {error.message[:200]} for the valid reply {booking}.")
    assert _dump(got) == booking, f"extract_booking returned {_dump(got) or got!r}; the reply was {booking}."
    stub.reset()
    token, text = _utterance(rng)
    bad = {k: v for k, v in booking.items() if k != "mentioned"}
    stub.add_rule({"when": {"any_contains": token}, "reply": {"content": json.dumps(bad)}})
    got, error = _call(nb.extract_booking, client, text, reference_date=reference, model=MODEL)
    assert error is not None, (
        f"extract_booking returned {_dump(got) or got!r} for a reply without 'mentioned': validate the reply with "
        "Booking and let the ValidationError out, never return a half-valid booking.")
    assert error.is_a("ValidationError"), (
        f"For a reply that does not validate, extract_booking raised {error.type_name}; expected a ValidationError.")


# -- part 3: lenient parsing ----------------------------------------------------------------------

def _tricky_string(rng: random.Random) -> str:
    return rng.choice(["```json", "a } b", "{not json}", "``` fence", "line\nbreak", "café ✓", "say \"hi\"",
                       "}{", "json ```\n{", _token(rng)])


def _random_json(rng: random.Random, depth: int = 0) -> dict:
    value: dict[str, Any] = {}
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        key = _token(rng, 4)
        if depth < 2 and roll < 0.3:
            value[key] = _random_json(rng, depth + 1)
        elif roll < 0.45:
            value[key] = [rng.randint(-9, 99), _tricky_string(rng), None]
        elif roll < 0.8:
            value[key] = _tricky_string(rng)
        else:
            value[key] = rng.choice([True, None, 3.5, -7])
    return value


def _wrappings(text: str) -> list[tuple[str, str]]:
    return [
        ("plain JSON with spaces around it", f"  \n{text}\n "),
        ("a ```json fence", f"```json\n{text}\n```"),
        ("a bare ``` fence after a sentence", f"Here you go:\n```\n{text}\n```\nAnything else?"),
        ("a sentence before the object", f"Sure! Here is the booking: {text}"),
        ("a sentence before and after the object", f"Extracted:\n{text}\nLet me know if you need more."),
        ("the object first, then a sentence", f"{text}\nLet me know if you need anything else."),
    ]


@part("so-lenient", weight=2, hint="Try json.loads on the stripped text, then on each FENCE match, then "
      "json.JSONDecoder().raw_decode(text, text.find('{')); accept only dicts.")
def test_extract_json_finds_the_object(nb, rng, quick):
    for _ in range(1 if quick else 2):
        value = _random_json(rng)
        text = json.dumps(value, ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 2]))
        for described, reply in _wrappings(text):
            got, error = _call(nb.extract_json, reply)
            if error is not None:
                fail(f"extract_json raised {error.type_name} ({error.message[:120]}) for {described}: {reply!r}.")
            assert got == value, (
                f"extract_json changed the JSON in {described}: from {reply!r} it returned {got!r}, expected "
                f"{value!r}. A regex that strips fences or cuts at a '}}' eats valid JSON (backticks and braces "
                "inside strings, nested objects); find the JSON, never edit it.")
    plain = {"note": _token(rng), "count": rng.randint(1, 99), "inner": {"ok": True}}  # no backticks inside
    reply = f"```\n{{not json}}\n```\nThe JSON:\n```json\n{json.dumps(plain)}\n```"
    got, error = _call(nb.extract_json, reply)
    assert error is None and got == plain, (
        f"extract_json({reply!r}) {'raised ' + error.type_name if error else 'returned ' + repr(got)}; the first "
        f"fence holds no JSON object, so the answer is the JSON in the second: {plain!r}.")


@part("so-lenient", weight=1.5, hint="If no candidate parses as a JSON object, raise InvalidReply; never eval, "
      "never ast.literal_eval, never close a cut-off object.")
def test_extract_json_rejects_what_is_not_a_json_object(nb, rng):
    value = {"date": None, "people": rng.randint(2, 9), "note": _tricky_string(rng), "inner": {"x": [1, 2]}}
    text = json.dumps(value)
    cases = [
        ("no JSON at all", f"Sorry, I could not find a booking in {_token(rng)}."),
        ("a cut-off object", text[: rng.randint(len(text) // 3, len(text) - 2)]),
        ("a cut-off object in a fence", f"```json\n{text[: len(text) // 2]}\n```"),
        ("a JSON array", json.dumps([value])),
        ("Python syntax (single quotes, None)", repr({"date": None, "people": value["people"], "ok": True})),
    ]
    for described, reply in cases:
        got, error = _call(nb.extract_json, reply)
        assert error is not None, (
            f"extract_json accepted {described}: {reply!r} gave {got!r}." + (
                " That is eval/ast.literal_eval territory: Python syntax is not JSON, and evaluating model output "
                "runs whatever the model wrote." if "Python" in described else
                " A cut-off reply must be rejected, not completed." if "cut-off" in described else ""))
        assert error.is_a("InvalidReply"), (
            f"For {described}, extract_json raised {error.type_name} ({error.message[:100]}); raise InvalidReply.")


@part("so-lenient", hint="read_booking(text) is Booking.model_validate(extract_json(text)): no keys added, "
      "dropped or changed.")
def test_read_booking_is_lenient_only_about_wrapping(nb, rng):
    booking = _booking(rng, full=rng.random() < 0.5)
    got, error = _call(nb.read_booking, f"Here it is:\n```json\n{json.dumps(booking, indent=2)}\n```")
    if error is not None:
        fail(f"read_booking raised {error.type_name} ({error.message[:150]}) for a valid booking in a fence.")
    assert _dump(got) == booking, f"read_booking returned {_dump(got) or got!r} for {booking}."
    invalid = _invalid_bookings(rng)
    named = [case for case in invalid if case[0] in ("an extra key 'notes'", "no 'mentioned' key")]
    for described, bad in named + rng.sample(invalid, 3):
        if _call(nb.Booking.model_validate, bad)[1] is None:
            continue  # Booking itself accepts it: part 1's mistake, judged there
        reply = rng.choice([json.dumps(bad), f"Sure! {json.dumps(bad)}", f"```json\n{json.dumps(bad)}\n```"])
        got, error = _call(nb.read_booking, reply)
        assert error is not None, (
            f"read_booking accepted a reply with {described} ({reply!r}) that Booking rejects: lenient parsing "
            "must find the JSON, not fill in, drop or fix fields the schema forbids.")


# -- part 4: the repair loop ------------------------------------------------------------------------

def _bad_reply(nb: Any, kind: str, booking: dict, marker: str) -> tuple[str, str, tuple[str, ...]]:
    """(reply, what is wrong, words the error sent back must contain) for a bad reply of *kind*; a kind the
    learner's Booking accepts (part 1's mistake, judged there) becomes cut-off JSON."""
    if kind == "type":
        reply, described = {**booking, "people": f"several-{marker}"}, "people that is not an integer"
        words: tuple[str, ...] = ("people",)
    elif kind == "enum":
        reply, described = {**booking, "mentioned": [f"party_size_{marker}"]}, "a value outside the Slot enum"
        words = ("mentioned",)
    if kind in ("type", "enum") and _call(nb.Booking.model_validate, reply)[1] is not None:
        return json.dumps(reply), described, words
    return f"Booking {marker}: " + json.dumps(booking)[:-3], "invalid JSON (cut off, after a sentence)", ()


def _repair_setup(nb: Any, stub: Any, rng: random.Random, kinds: list[str]) -> tuple[str, dict, list]:
    """Script one bad reply per kind, then the good one; each later rule is keyed on the previous marker,
    which the conversation holds once the previous reply was sent back."""
    token, text = _utterance(rng)
    booking = _booking(rng)
    markers = [_token(rng, 6) for _ in kinds]
    bad = [_bad_reply(nb, kind, booking, marker) for kind, marker in zip(kinds, markers, strict=True)]
    rules = [{"when": {"any_contains": [token, markers[-1]]}, "reply": {"content": json.dumps(booking)}}]
    for index in range(len(kinds) - 1, 0, -1):
        rules.append({"when": {"any_contains": [token, markers[index - 1]]}, "reply": {"content": bad[index][0]}})
    rules.append({"when": {"any_contains": token}, "reply": {"content": bad[0][0]}})
    stub.add_rules(rules)
    return text, booking, bad


@part("so-repair", weight=2, hint="On InvalidReply/ValidationError/Truncated: append {'role': 'assistant', "
      "'content': the reply} and {'role': 'user', 'content': REPAIR_PROMPT.format(error=error)} to the messages and "
      "call again; return (booking, attempt).")
def test_repairs_by_sending_the_error_back(nb, stub, rng, quick):
    # Cut-off JSON, and a reply that is JSON but fails validation: only a repair message that carries the
    # validation error names the field, which tells a vague message apart. The quick check has both in one call.
    for kinds in [["json", "type"]] if quick else [["json"], ["type", "enum"]]:
        stub.reset()
        failures = len(kinds)
        text, booking, bad = _repair_setup(nb, stub, rng, kinds)
        reference = _reference(rng).isoformat()
        response_format = rng.choice([{"type": "json_object"}, None])
        kwargs = {"response_format": response_format} if response_format else {}
        client = make("openai_client", max_retries=0, timeout=5)
        got, error = _call(nb.extract_with_repair, client, text, reference_date=reference, model=MODEL,
                           max_attempts=failures + 2, **kwargs)
        sent = _chat_requests(stub)
        if error is not None:
            described = ", then ".join(b[1] for b in bad)
            if len(sent) > 1 and not any(m["role"] == "assistant" for m in sent[1].body.get("messages", [])):
                fail(f"After a reply with {described}, extract_with_repair asked again without sending the reply "
                      "and the error back, so the model made the same mistake again. Append the reply and the error.")
            fail(f"After a reply with {described}, extract_with_repair raised {error.type_name} "
                  f"({error.message[:150]}) after {len(sent)} request(s): it did not repair it. The model answers "
                  "correctly once it sees its error.")
        assert len(sent) == failures + 1, (
            f"{failures} bad repl{'y' if failures == 1 else 'ies'} then a good one took {len(sent)} requests.")
        assert isinstance(got, (tuple, list)) and len(got) == 2, (
            f"extract_with_repair returned {got!r}; return (booking, attempts).")
        assert _dump(got[0]) == booking, (
            f"extract_with_repair returned the booking {_dump(got[0]) or got[0]!r}, expected {booking}.")
        assert got[1] == failures + 1, f"extract_with_repair said it took {got[1]!r} attempts; it took {failures + 1}."
        original = nb.booking_messages(text, reference, [])
        first = sent[0].body
        assert first.get("messages") == original, (
            "The first request must send booking_messages(text, reference_date, requested).")
        assert first.get("response_format") == (response_format or {"type": "json_object"}), (
            f"extract_with_repair sent response_format {first.get('response_format')!r}, not the one it was given.")
        temperatures = [request.body.get("temperature") for request in sent]
        assert all(t == 0 for t in temperatures), (
            f"extract_with_repair sent temperatures {temperatures}: send temperature=0 on every call, repairs "
            "included, so the model gives its most likely answer rather than a new sample.")
        for attempt, (reply, described, words) in enumerate(bad, start=1):
            messages = sent[attempt].body["messages"]
            assert messages[: len(original)] == original, "A repair request must keep the original messages first."
            tail = messages[len(original) + 2 * (attempt - 1):]
            assert len(tail) == 2 and tail[0] == {"role": "assistant", "content": reply}, (
                f"Repair request {attempt} ends with {json.dumps(tail)[:300]}: after the original messages (and "
                "earlier repairs), send the model's reply as an assistant message, then your error as a user message.")
            feedback = tail[1]
            assert feedback.get("role") == "user" and all(word in feedback.get("content", "") for word in words) and (
                len(feedback.get("content", "")) > 20), (
                f"After a reply with {described}, the repair message was {feedback!r}: it does not send the validation "
                "error back, so the model cannot know what to fix. Send REPAIR_PROMPT.format(error=error).")
    _repairs_an_empty_reply(nb, stub, rng)


def _repairs_an_empty_reply(nb: Any, stub: Any, rng: random.Random) -> None:
    """An empty reply is an invalid one: it goes back as it is (''), with the error, and the model tries again."""
    stub.reset()
    token, text = _utterance(rng)
    booking = _booking(rng)
    followed_up = rf"^(?![\s\S]*{token})"  # the latest user message is not the guest's: a repair was sent
    stub.add_rules([{"when": {"any_contains": token, "user_matches": followed_up},
                     "reply": {"content": json.dumps(booking)}},
                    {"when": {"any_contains": token}, "reply": {"content": ""}}])
    client = make("openai_client", max_retries=0, timeout=5)
    got, error = _call(nb.extract_with_repair, client, text, reference_date=_reference(rng).isoformat(), model=MODEL,
                       max_attempts=3)
    sent = _chat_requests(stub)
    if error is not None:
        fail(f"After an empty reply, extract_with_repair raised {error.type_name} ({error.message[:150]}) after "
             f"{len(sent)} request(s): an empty reply is an invalid one; send it back with the error and call again.")
    assert len(sent) == 2 and _dump(got[0]) == booking, (
        f"An empty reply then a good one took {len(sent)} request(s) and gave {got!r}; expected 2 and {booking}.")
    reply = sent[1].body["messages"][-2]
    assert reply == {"role": "assistant", "content": ""}, (
        f"After an empty reply, the repair request sent it back as {reply!r}; send the model's reply as it is: "
        "{'role': 'assistant', 'content': ''}.")


@part("so-repair", weight=1.5, hint="Loop `for attempt in range(1, max_attempts + 1)`, collect "
      "f'{type(error).__name__}: {error}' each time, and raise ExtractionFailed(errors) after the loop.")
def test_gives_up_with_every_error(nb, stub, rng):
    for max_attempts in (rng.randint(2, 4), 1):
        stub.reset()
        _gives_up_after(nb, stub, rng, max_attempts)


def _gives_up_after(nb: Any, stub: Any, rng: random.Random, max_attempts: int) -> None:
    text, _, _ = _repair_setup(nb, stub, rng, ["json"] * (max_attempts + 5))  # right only much later
    client = make("openai_client", max_retries=0, timeout=5)
    got, error = _call(nb.extract_with_repair, client, text, reference_date=_reference(rng).isoformat(), model=MODEL,
                       max_attempts=max_attempts)
    sent = len(_chat_requests(stub))
    assert sent <= max_attempts, (
        f"With max_attempts={max_attempts} and a model that never gets it right, extract_with_repair made {sent} "
        "requests: it retried beyond its limit" + (" (forever?)." if sent > max_attempts + 3 else "."))
    assert sent == max_attempts, (
        f"With max_attempts={max_attempts}, extract_with_repair gave up after {sent} request(s).")
    assert error is not None, (
        f"extract_with_repair returned {got!r} when every reply was invalid; raise ExtractionFailed.")
    assert error.is_a("ExtractionFailed"), (
        f"On giving up, extract_with_repair raised {error.type_name} ({error.message[:150]}); raise "
        "ExtractionFailed(errors) with every error seen.")
    seen = error.message.count("InvalidReply: ")
    assert seen == max_attempts and f"after {max_attempts} attempt" in error.message, (
        f"ExtractionFailed says {error.message[:300]!r}: it should hold all {max_attempts} errors "
        "('<ErrorType>: <message>' each), not only the last.")


@part("so-repair", hint="Catch only InvalidReply, ValidationError and Truncated: a refusal or an API error "
      "propagates at once (no bare `except`, no `except Exception`).")
def test_does_not_retry_what_repair_cannot_fix(nb, stub, rng):
    token, text = _utterance(rng)
    client = make("openai_client", max_retries=0, timeout=5)
    rejected = {"type": "json_schema", "json_schema": {"name": "booking", "strict": True, "schema": {
        "type": "object", "properties": {"date": {"type": "string"}}, "required": ["date"]}}}
    got, error = _call(nb.extract_with_repair, client, text, reference_date=_reference(rng).isoformat(),
                       model=MODEL, max_attempts=3, response_format=rejected)
    sent = len(_chat_requests(stub))
    assert sent == 1 and error is not None and error.is_a("BadRequestError"), (
        f"The API answered 400 (a schema strict mode refuses) and extract_with_repair made {sent} request(s) and "
        f"{'raised ' + error.type_name if error else 'returned ' + repr(got)}: an API error is not the model's "
        "mistake; it must propagate at once, unchanged (catch only InvalidReply, ValidationError, Truncated).")
    refusal = f"I can't help with that ({_token(rng, 4)})."
    if _call(nb.reply_text, _completion(stub, rng, {"refusal": refusal}))[1] is None:
        return  # reply_text ignores refusals: part 2's mistake, judged there
    stub.reset()
    token, text = _utterance(rng)
    stub.add_rule({"when": {"any_contains": token}, "reply": {"refusal": refusal}})
    got, error = _call(nb.extract_with_repair, client, text, reference_date=_reference(rng).isoformat(),
                       model=MODEL, max_attempts=3)
    sent = len(_chat_requests(stub))
    assert sent == 1 and error is not None and error.is_a("Refused"), (
        f"After a refusal, extract_with_repair made {sent} request(s) and "
        f"{'raised ' + error.type_name if error else 'returned ' + repr(got)}: a refusal does not change by asking "
        "again; let Refused propagate at once.")


@part("so-repair", hint="Truncated is one of the errors to repair: note it, send it back, and call again.")
def test_repairs_a_cut_off_reply(nb, stub, rng):
    booking = _booking(rng, full=True)
    if _call(nb.reply_text, _completion(stub, rng, {"content": json.dumps(booking)}, fault="truncate"))[1] is None:
        return  # reply_text passes cut-off replies: part 2's mistake, judged there
    stub.reset()
    token, text = _utterance(rng)
    stub.add_rule({"when": {"any_contains": token}, "reply": {"content": json.dumps(booking)}})
    stub.queue_fault("truncate")
    client = make("openai_client", max_retries=0, timeout=5)
    got, error = _call(nb.extract_with_repair, client, text, reference_date=_reference(rng).isoformat(), model=MODEL,
                       max_attempts=3)
    sent = len(_chat_requests(stub))
    assert error is None and sent == 2, (
        f"After a reply cut off at the token limit, extract_with_repair made {sent} request(s) and "
        f"{'raised ' + error.type_name + ': ' + error.message[:120] if error else 'returned'}; a cut-off reply is "
        "worth one more try: repair Truncated like an invalid reply.")
    assert _dump(got[0]) == booking, f"extract_with_repair returned {got!r} after a cut-off reply."


# -- part 5: normalisation ------------------------------------------------------------------------------

SAME = object()
"""Expected: the text itself, cleaned (what a normaliser returns for a form it does not know)."""


def _cleaned(text: str) -> str:
    return " ".join(text.split()).rstrip(".,").strip().casefold()


def _spaced(rng: random.Random, text: str) -> str:
    text = rng.choice([text, text.upper(), text.title(), text.lower()])
    return rng.choice(["", " ", "  "]) + text + rng.choice(["", " ", ".", ",", " \n"])


def _date_forms(rng: random.Random, reference: date) -> list[tuple[str, date]]:
    """(text, the date it means) for every form part 5 lists, edge cases included."""
    target = reference + timedelta(days=rng.randint(-400, 400))
    month = MONTHS[target.month - 1]
    name = rng.choice([month, month[:3]])
    day = target.day
    suffix = rng.choice(["", {1: "st", 2: "nd", 3: "rd"}.get(day % 10 if day not in (11, 12, 13) else 0, "th")])
    weekday = rng.choice(["", f"{WEEKDAYS[target.weekday()]}, ", f"{WEEKDAYS[target.weekday()]}., "])
    n = rng.randint(3, 19)
    forms = [
        (target.isoformat(), target),
        (f"{target.year}/{target.month}/{target.day}", target),
        (f"{weekday}{day}{suffix} of {name} {target.year}", target),
        (f"{name} {day}{suffix}, {target.year}", target),
        (f"{weekday}{name}{rng.choice(['', '.'])} {day} {target.year}", target),
        (rng.choice(["today", "tonight", "this evening"]), reference),
        ("tomorrow", reference + timedelta(days=1)),
        (rng.choice(["day after tomorrow", "the day after tomorrow"]), reference + timedelta(days=2)),
        (f"in {n} days", reference + timedelta(days=n)),
        (f"{WORDS[n]} days from now", reference + timedelta(days=n)),
    ]
    for day, suffix in ((rng.choice([1, 21, 31]), "st"), (rng.choice([2, 22]), "nd"), (rng.choice([3, 23]), "rd")):
        month = rng.randint(1, 12)
        if day <= calendar.monthrange(target.year, month)[1]:
            forms.append((f"{day}{suffix} of {MONTHS[month - 1]} {target.year}", date(target.year, month, day)))
    upcoming = reference + timedelta(days=rng.randint(1, 300))
    passed = reference - timedelta(days=rng.randint(1, 300))
    for when in (reference, upcoming, passed, reference - timedelta(days=1)):  # no year: on or after the reference
        if (when.month, when.day) == (2, 29):
            when -= timedelta(days=1)
        meant = when if when >= reference else _next_year(when)
        forms.append((f"on {when.day} {MONTHS[when.month - 1]}", meant))
        forms.append((f"{MONTHS[when.month - 1][:3]} {when.day}", meant))
    return forms


def _next_year(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def _check_forms(function: Any, name: str, cases: list[tuple], *extra: Any) -> None:
    """Each case is (text, expected) or (text, expected, why: the rule a wrong answer broke)."""
    for text, want, *why in cases:
        got, error = _call(function, text, *extra)
        because = "".join(" " + reason for reason in why)
        if error is not None:
            fail(f"{name}({text!r}{''.join(', ' + repr(e) for e in extra)}) raised {error.type_name}: "
                  f"{error.message[:150]}; expected {want!r}.{because}")
        assert got == want and type(got) is type(want), (
            f"{name}({text!r}{''.join(', ' + repr(e) for e in extra)}) returned {got!r}, expected {want!r}.{because}")


@part("so-normalise", weight=1.5, hint="Clean the text first (strip, lower-case, drop a trailing '.'), then try "
      "each form in turn; without a year, take this year's date and move it a year on if it is before the "
      "reference date.")
def test_dates_compare_equal_however_they_were_written(nb, rng, quick):
    for _ in range(1 if quick else 2):
        reference = _reference(rng)
        forms = _date_forms(rng, reference)
        cases = [(_spaced(rng, text), day.isoformat()) for text, day in forms]
        cases += [(None, None), ("   ", None), ("  Next Fortnight-ish. ", "next fortnight-ish")]
        vague = rng.choice(["several", "some", "many", "few"])
        cases += [(text, text, f"{vague!r} is not a number: text you do not recognise comes back as it is.")
                  for text in (f"in {vague} days", f"{vague} days from now")]
        inside = f"{rng.choice(['first', 'last', 'second'])} {rng.choice(WEEKDAYS).lower()} of {rng.choice(MONTHS)}"
        cases.append((inside, inside, "Only a leading weekday is ignored (anchor it with '^'): a weekday inside the "
                      "text is part of it."))
        _check_forms(nb.normalise_date, "normalise_date", rng.sample(cases, len(cases)), reference.isoformat())


def _time_forms(rng: random.Random) -> list[tuple]:
    hour, minute = rng.randint(13, 23), rng.choice([0, 5, 15, 30, 45])
    morning = rng.randint(1, 11)
    return [
        (f"{hour}", f"{hour:02d}:00"), (f"{morning}", f"{morning:02d}:00"), ("0", "00:00"),
        (f"{hour}:{minute:02d}", f"{hour:02d}:{minute:02d}"),
        (f"{morning}:{minute:02d}", f"{morning:02d}:{minute:02d}"),
        (f"{hour}:{minute:02d}:00", f"{hour:02d}:{minute:02d}"),
        (f"{hour - 12}{rng.choice(['pm', ' pm', 'p.m.', ' p.m.'])}", f"{hour:02d}:00"),
        (f"{hour - 12}:{minute:02d}{rng.choice(['pm', ' PM', 'p.m'])}", f"{hour:02d}:{minute:02d}"),
        (f"{morning}{rng.choice(['am', ' am', 'a.m.'])}", f"{morning:02d}:00"),
        (f"at {morning}:{minute:02d} am", f"{morning:02d}:{minute:02d}"),
        ("12am", "00:00"), ("12 pm", "12:00"), ("12:30am", "00:30"), ("12:45 p.m.", "12:45"), ("1pm", "13:00"),
        ("noon", "12:00"), ("midday", "12:00"), ("midnight", "00:00"),
        ("24", SAME), ("25:00", SAME), ("13pm", SAME), ("7:60", SAME), ("around eightish", SAME),
        (f"{morning % 10 or 7}:59", f"{morning % 10 or 7:02d}:59"),  # one digit: a rejected :59 would show
        ("23", "23:00"), (f"11{rng.choice(['pm', ' p.m.'])}", "23:00"),  # the last hour of the day
        (f"0{rng.choice(['am', ' pm', 'p.m.'])}", SAME, "With am/pm the hours run from 1 to 12: there is no 0 pm."),
        (None, None), (" ", None),
    ]


@part("so-normalise", hint="am/pm: hour % 12, plus 12 for pm (so 12am is 00 and 12pm is 12); reject hours above "
      "12 with am/pm and above 23 or minutes above 59 without.")
def test_times_compare_equal_however_they_were_written(nb, rng):
    cases = []
    for text, want, *why in _time_forms(rng):
        spaced = text if text is None or not text.strip() else _spaced(rng, text)
        cases.append((spaced, _cleaned(spaced) if want is SAME else want, *why))
    _check_forms(nb.normalise_time, "normalise_time", rng.sample(cases, len(cases)))


@part("so-normalise", hint="people: an int as it is; else strip the listed prefixes and suffixes and read "
      "digits or NUMBER_WORDS. names: ' '.join(value.split()).title().")
def test_people_and_names(nb, rng):
    n, m = rng.randint(2, 20), rng.randint(21, 49)
    people = [(n, n), (m, m), (-n, -n), (str(m), m), (WORDS[n], n), (f"{n} people", n), (f"table for {WORDS[n]}", n),
              (f"a party of {n}", n), (f"group of {WORDS[n]} guests", n), (f"{WORDS[n]} of us", n),
              ("1 person", 1), (f"{n} adults", n), (None, None), ("  ", None), ("a handful", SAME)]
    cases = []
    for text, want in people:
        spaced = _spaced(rng, text) if isinstance(text, str) and text.strip() else text
        cases.append((spaced, _cleaned(spaced) if want is SAME else want))
    _check_forms(nb.normalise_people, "normalise_people", rng.sample(cases, len(cases)))
    first, last = rng.choice(NAMES), rng.choice(NAMES)
    names = [(f"  {first.lower()} ", first.title()), (f"{last.upper()}", last.title()),
             (f" {first}\t {last} ", f"{first} {last}".title()), (None, None), ("   ", None)]
    _check_forms(nb.normalise_name, "normalise_name", names)


@part("so-normalise", weight=0.5, hint="Return {'date': normalise_date(booking.get('date'), reference), ...} for "
      "the five FIELDS only.")
def test_normalise_booking_uses_every_field(nb, rng):
    reference = _reference(rng)
    booking = {"date": "tomorrow", "time": f"{rng.randint(1, 11)}pm", "people": WORDS[rng.randint(2, 9)],
               "first_name": f" {rng.choice(NAMES).lower()} ", "last_name": f"{rng.choice(NAMES).upper()}  ",
               "mentioned": ["date", "time"]}
    hour = int(booking["time"][:-2]) + 12
    want = {"date": (reference + timedelta(days=1)).isoformat(), "time": f"{hour:02d}:00",
            "people": WORDS.index(booking["people"]), "first_name": booking["first_name"].strip().title(),
            "last_name": booking["last_name"].strip().title()}
    got, error = _call(nb.normalise_booking, booking, reference.isoformat())
    if error is not None:
        fail(f"normalise_booking({booking}, {reference.isoformat()!r}) raised {error.type_name}: "
              f"{error.message[:150]}.")
    assert got == want, f"normalise_booking({booking}, {reference.isoformat()!r}) returned {got!r}, expected {want!r}."


# -- part 6: evaluation -------------------------------------------------------------------------------

def _surface(rng: random.Random, field: str, value: Any, reference: date) -> Any:
    """*value* (canonical) as a model might write it."""
    if value is None or rng.random() < 0.5:
        return value
    if field in ("first_name", "last_name"):
        return f"  {value.lower()} "
    if field == "time":
        hour, minute = map(int, value.split(":"))
        return f"{hour % 12 or 12}:{minute:02d} {'pm' if hour >= 12 else 'am'}"
    if field == "date" and value == (reference + timedelta(days=1)).isoformat():
        return "tomorrow"
    return value


def _evaluation_set(rng: random.Random, reference: date, size: int) -> tuple[list, list, list]:
    gold, predicted, attempts = [], [], []
    for index in range(size):
        truth = {field: value for field, value in _booking(rng).items() if field != "mentioned"}
        if rng.random() < 0.3:
            truth["date"] = (reference + timedelta(days=1)).isoformat()
        kind = ["exact", "failed", "empty", "wrong", "failed-empty"][index] if index < 5 else rng.choice(
            ["exact", "exact", "wrong", "missing", "extra", "failed"])
        if kind in ("empty", "failed-empty"):
            truth = dict.fromkeys(FIELDS)
        guess: dict | None = dict(truth)
        if kind == "wrong":
            field = rng.choice([f for f in FIELDS if truth[f] is not None] or ["people"])
            guess[field] = {"people": 3 if truth["people"] != 3 else 4, "date": "2031-01-01", "time": "23:59",
                            "first_name": "Zed", "last_name": "Zed"}[field]
        elif kind == "missing":
            guess[rng.choice(FIELDS)] = None
        elif kind == "extra":
            empty = [f for f in FIELDS if truth[f] is None]
            if empty:
                field = rng.choice(empty)
                guess[field] = {"people": 2, "date": "2030-02-02", "time": "12:00"}.get(field, "Ann")
        if kind.startswith("failed"):
            guess = None
        else:
            guess = {field: _surface(rng, field, value, reference) for field, value in guess.items()}
            guess["mentioned"] = [field for field in FIELDS if guess[field] is not None]
        gold.append(truth)
        predicted.append(guess)
        attempts.append([1, 2, 3][index] if index < 3 else rng.choice([1, 1, 1, 2, 3]))  # every count, always
    return gold, predicted, attempts


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def _scores(tp: int, fp: int, fn: int) -> dict:
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    return {"precision": precision, "recall": recall, "f1": _ratio(2 * precision * recall, precision + recall)}


def _expected_metrics(gold: list, found: list, attempts: list) -> dict:
    """The metrics of part 6, from normalised predictions (None for a failed item)."""
    counts = {field: [0, 0, 0] for field in FIELDS}
    exact = 0
    for truth, guess in zip(gold, found, strict=True):
        said_all = guess or dict.fromkeys(FIELDS)
        for field in FIELDS:
            said, true = said_all[field], truth[field]
            if said is not None and said == true:
                counts[field][0] += 1
            elif said is not None:
                counts[field][1] += 1
                counts[field][2] += true is not None
            elif true is not None:
                counts[field][2] += 1
        exact += guess is not None and all(guess[field] == truth[field] for field in FIELDS)
    total = [sum(c[i] for c in counts.values()) for i in range(3)]
    return {**_scores(*total), "exact_match": _ratio(exact, len(gold)),
            "repair_rate": _ratio(sum(1 for used in attempts if used > 1), len(gold)),
            "fields": {field: _scores(*counts[field]) for field in FIELDS}}


def _close(a: Any, b: float) -> bool:
    return type(a) in (int, float) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _named_metric_mistake(name: str, got: Any, gold: list, predicted: list, found: list, attempts: list) -> str:
    """Name the mistake a wrong figure shows, when it matches a known one."""
    n = len(gold)
    raw = [None if p is None else {f: p[f] for f in FIELDS} for p in predicted]
    alternatives = {
        "exact_match": {"it compares unnormalised values (normalise the prediction first)":
                        _expected_metrics(gold, raw, attempts)["exact_match"],
                        "it divides by the number of successful items, not all items":
                        _ratio(_expected_metrics(gold, found, attempts)["exact_match"] * n,
                               sum(p is not None for p in found))},
        "repair_rate": {"it counts every item that made at least one call": _ratio(sum(a >= 1 for a in attempts), n),
                        "it counts only items that took three calls or more; a repaired item took more than one":
                        _ratio(sum(a > 2 for a in attempts), n),
                        "it divides by the wrong count": _ratio(sum(a > 1 for a in attempts), sum(attempts))},
        "precision": {"it divides by all gold values, not by the predicted ones":
                      _expected_metrics(gold, found, attempts)["recall"]},
    }
    for what, value in alternatives.get(name, {}).items():
        if _close(got, value):
            return f": {what}"
    return ""


@part("so-eval", weight=2, hint="Count TP/FP/FN over all items and fields (a wrong value is an FP and, when "
      "there is a gold value, an FN too); precision = TP/(TP+FP), recall = TP/(TP+FN); exact match and repair "
      "rate divide by the number of items.")
def test_metrics_match_an_independent_count(nb, rng, quick):
    reference = _reference(rng)
    gold, predicted, attempts = _evaluation_set(rng, reference, 10 if quick else 16)
    found = []
    for guess in predicted:  # the learner's own normalisation, so this part is judged on counting only
        found.append(None if guess is None else nb.normalise_booking(guess, reference.isoformat()))
    want = _expected_metrics(gold, found, attempts)
    got, error = _call(nb.evaluate, gold, predicted, attempts, reference.isoformat())
    if error is not None:
        fail(f"evaluate raised {error.type_name}: {error.message[:200]} on {len(gold)} items with failures and "
              "empty bookings.")
    assert isinstance(got, dict), f"evaluate returned {got!r}; return a dict."
    for name in ("precision", "recall", "f1", "exact_match", "repair_rate"):
        assert _close(got.get(name), want[name]), (
            f"evaluate gave {name} = {got.get(name)!r}; counting independently gives {want[name]!r}"
            f"{_named_metric_mistake(name, got.get(name), gold, predicted, found, attempts)}. Items: "
            f"{json.dumps(list(zip(gold, predicted, attempts, strict=True)))[:600]}...")


@part("so-eval", hint="fields: for each of FIELDS its own precision, recall and f1 from that field's counts.")
def test_per_field_scores(nb, rng):
    reference = _reference(rng)
    gold, predicted, attempts = _evaluation_set(rng, reference, 12)
    found = [None if g is None else nb.normalise_booking(g, reference.isoformat()) for g in predicted]
    want = _expected_metrics(gold, found, attempts)["fields"]
    got = nb.evaluate(gold, predicted, attempts, reference.isoformat())
    fields = got.get("fields") if isinstance(got, dict) else None
    assert isinstance(fields, dict) and sorted(fields) == sorted(FIELDS), (
        f"evaluate(...)['fields'] is {fields!r}; give one entry per field of FIELDS.")
    for field in FIELDS:
        for name in ("precision", "recall", "f1"):
            value = fields[field].get(name) if isinstance(fields[field], dict) else None
            assert _close(value, want[field][name]), (
                f"evaluate gave {field} {name} = {value!r}; counting that field alone gives {want[field][name]!r}.")


@part("so-eval", hint="Guard every division: with no predictions precision is 0.0, with no gold values recall "
      "is 0.0, and F1 is 0.0 when both are.")
def test_empty_cases_do_not_divide_by_zero(nb, rng):
    size = rng.randint(2, 5)
    empty = [dict.fromkeys(FIELDS) for _ in range(size)]
    nothing = [{**dict.fromkeys(FIELDS), "mentioned": []} for _ in range(size)]
    some_gold = [{field: value for field, value in _booking(rng, full=True).items() if field != "mentioned"}
                 for _ in range(size)]
    cases = [("no gold values and no predictions", empty, nothing, 1.0),
             ("gold values but every extraction failed", some_gold, [None] * size, 0.0),
             ("no gold values and every extraction failed", empty, [None] * size, 0.0)]
    for described, gold, predicted, exact in cases:
        got, error = _call(nb.evaluate, gold, predicted, [1] * size, "2018-04-11")
        if error is not None:
            fail(f"With {described}, evaluate raised {error.type_name}: {error.message[:150]}; guard the divisions "
                  "(a ratio with nothing to count is 0.0).")
        figures = {name: got.get(name) for name in ("precision", "recall", "f1", "exact_match", "repair_rate")}
        want = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "exact_match": exact, "repair_rate": 0.0}
        assert all(_close(figures[name], value) for name, value in want.items()), (
            f"With {described}, evaluate gave {figures}; expected {want}.")
