"""The stub as a realistic booking-extraction model (``grader/stub/booking_model.py``), and the
strict-mode keyword rule, seen through the real SDK and the pure core."""

from __future__ import annotations

import json
from typing import Literal

import openai
import pytest
from pydantic import BaseModel, ConfigDict, Field

from grader.datasets.restaurant8k import FIELDS, load_bookings
from grader.stub import StubLLM, StubRequest
from grader.stub.booking_model import REFUSAL

MODEL = "gpt-4o-mini"
SYSTEM = "Extract the booking. Reply with a JSON object with date, time, people, first_name, last_name, mentioned."
Slot = Literal["date", "time", "people", "first_name", "last_name"]


class Booking(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: str | None
    time: str | None
    people: int | None = Field(ge=1, le=50)
    first_name: str | None
    last_name: str | None
    mentioned: list[Slot]


def _schema() -> dict:
    return openai.lib._pydantic.to_strict_json_schema(Booking)


def _messages(text: str, *extra: dict) -> list[dict]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}, *extra]


def _reply(stub: StubLLM, messages: list[dict], response_format: dict) -> dict:
    body = {"model": MODEL, "messages": messages, "response_format": response_format}
    request = StubRequest.build("POST", "/v1/chat/completions", {"authorization": "Bearer sk-test"},
                                json.dumps(body).encode())
    response = stub.handle(request)
    assert response.status == 200, response.body
    return json.loads(response.body)["choices"][0]


def _expected(item: dict) -> dict:
    gold = item["gold"]
    return {**gold, "mentioned": [field for field in FIELDS if gold[field] is not None]}


def _kind(choice: dict, item: dict) -> str:
    """Which mistake a first reply shows ("ok" for a valid booking, possibly in the guest's own words)."""
    message = choice["message"]
    if message["refusal"]:
        return "refusal"
    if choice["finish_reason"] == "length":
        return "truncated"
    content = message["content"]
    if content.startswith("```json"):
        return "fenced"
    if content.startswith("Sure!"):
        return "prose"
    reply = json.loads(content)
    if set(reply) != {*FIELDS, "mentioned"}:
        return "missing_field"
    try:
        Booking.model_validate(reply)
    except ValueError as error:
        return "bad_enum" if "mentioned" in str(error) and isinstance(reply["mentioned"], list) else "wrong_type"
    return "ok"


@pytest.fixture(scope="module")
def first_replies() -> list[tuple[dict, dict]]:
    stub = StubLLM()
    return [(item, _reply(stub, _messages(item["text"]), {"type": "json_object"})) for item in load_bookings()]


def test_json_mode_makes_every_kind_of_mistake_on_a_seeded_share(first_replies) -> None:
    kinds = [_kind(choice, item) for item, choice in first_replies]
    counts = {kind: kinds.count(kind) for kind in set(kinds)}
    assert set(counts) == {"ok", "fenced", "prose", "missing_field", "wrong_type", "bad_enum", "truncated", "refusal"}
    assert 0.55 < counts["ok"] / len(kinds) < 0.8, counts
    own_words = sum(1 for item, choice in first_replies if _kind(choice, item) == "ok"
                    and json.loads(choice["message"]["content"])["date"] == item["spans"].get("date", 0))
    assert own_words > 5, "some dates come back in the guest's own words"


def test_sending_the_error_back_gets_the_gold_booking(first_replies) -> None:
    stub = StubLLM()
    mistaken = [(item, choice) for item, choice in first_replies if _kind(choice, item) not in ("ok", "refusal")]
    for item, choice in mistaken[:25]:
        repair = [{"role": "assistant", "content": choice["message"]["content"]},
                  {"role": "user", "content": "That did not validate: fix it."}]
        fixed = _reply(stub, _messages(item["text"], *repair), {"type": "json_object"})
        assert fixed["finish_reason"] == "stop"
        assert json.loads(fixed["message"]["content"]) == _expected(item)
        again = _reply(stub, _messages(item["text"]), {"type": "json_object"})
        assert again == choice, "asking again without the error repeats the mistake"


def test_a_refusal_stays_a_refusal(first_replies) -> None:
    item, choice = next((i, c) for i, c in first_replies if _kind(c, i) == "refusal")
    repair = [{"role": "assistant", "content": ""}, {"role": "user", "content": "Please answer."}]
    again = _reply(StubLLM(), _messages(item["text"], *repair), {"type": "json_object"})
    assert again["message"]["refusal"] == choice["message"]["refusal"] == REFUSAL


def test_strict_mode_only_truncates_or_refuses(first_replies) -> None:
    stub = StubLLM()
    form = {"type": "json_schema", "json_schema": {"name": "booking", "strict": True, "schema": _schema()}}
    kinds = set()
    for item, _ in first_replies[:150]:
        choice = _reply(stub, _messages(item["text"]), form)
        kinds.add(kind := _kind(choice, item))
        if kind == "ok":
            assert {k: v for k, v in json.loads(choice["message"]["content"]).items() if k in ("people", "mentioned")} \
                == {k: v for k, v in _expected(item).items() if k in ("people", "mentioned")}
    assert kinds <= {"ok", "truncated", "refusal"} and "ok" in kinds


def test_other_requests_get_the_default_answerer() -> None:
    choice = _reply(StubLLM(), _messages("Book me a table for 4 at noon, name Zed Zedson"), {"type": "json_object"})
    assert json.loads(choice["message"]["content"]).keys() == {"answer"}


def test_sdk_parse_helper_works_against_the_stub() -> None:
    stub = StubLLM()
    form = {"type": "json_schema", "json_schema": {"name": "Booking", "strict": True, "schema": _schema()}}
    item = next(i for i in load_bookings() if i["gold"]["people"] and i["gold"]["first_name"]
                and _kind(_reply(stub, _messages(i["text"]), form), i) == "ok")
    completion = stub.client(max_retries=0).chat.completions.parse(
        model=MODEL, messages=_messages(item["text"]), response_format=Booking)
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Booking)
    assert (parsed.people, parsed.first_name) == (item["gold"]["people"], item["gold"]["first_name"])


def test_strict_mode_refuses_unsupported_keywords_as_the_api_does() -> None:
    class Named(BaseModel):
        name: str = Field(max_length=40)

    client = StubLLM().client(max_retries=0)
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.parse(model=MODEL, messages=_messages("Zed"), response_format=Named)
    assert raised.value.message.endswith(
        "Invalid schema for response_format 'Named': In context=('properties', 'name'), 'maxLength' is not permitted.")
    assert raised.value.body["param"] == "response_format"
