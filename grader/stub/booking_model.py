"""The stub as a realistic booking-extraction model, for the structured-output exercise.

When a request asks for JSON (``json_object`` or a ``json_schema`` with the booking's six
properties) and its first user message is one of the Restaurant-8k utterances in
``datasets/restaurant8k/``, the stub answers from that utterance's gold labels, as a good model
would. For a seeded share of utterances it makes the mistakes real models make: the JSON inside
a code fence or after a sentence of prose, a field left out, a wrong type, a value outside the
``mentioned`` enum, a reply cut off at the token limit, a refusal; and a quarter of the dates and
times come back in the guest's own words ("tomorrow", "8pm") instead of the asked-for format.
Strict ``json_schema`` mode constrains decoding, so there only cut-off replies and refusals
happen. Once the conversation holds its reply followed by a user message (the error sent back),
it answers correctly; a refusal stays a refusal. The same conversation always gets the same reply.
"""

from __future__ import annotations

import json
import random
from functools import cache

from grader.stub.conversation import Generation, Prompt

SEED = "restaurant8k-booking-model"
FIELDS = ("date", "time", "people", "first_name", "last_name")
PROPERTIES = frozenset((*FIELDS, "mentioned"))
MISTAKES = {  # share of utterances (out of 100) given each first-reply mistake
    "fenced": 6, "prose": 6, "missing_field": 5, "wrong_type": 5, "bad_enum": 5, "truncated": 4, "refusal": 2,
}
STRICT_MISTAKES = frozenset({"truncated", "refusal"})
"""What still goes wrong under strict structured outputs: decoding cannot fix these."""
OWN_WORDS_SHARE = 0.25
REFUSAL = "I'm sorry, but I can't help with that request."
_SYNONYMS = {"date": "day", "time": "hour", "people": "party_size", "first_name": "name", "last_name": "surname"}
_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                 "twelve"]


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


@cache
def _utterances() -> dict[str, dict]:
    from grader.datasets.restaurant8k import load_bookings

    return {_key(item["text"]): item for item in load_bookings()}


def _asks_for_a_booking(prompt: Prompt) -> bool:
    output = prompt.output
    if output.kind == "json_object":
        return True
    properties = (output.schema or {}).get("properties") if output.kind == "json_schema" else None
    return isinstance(properties, dict) and set(properties) == PROPERTIES


def answer(prompt: Prompt) -> Generation | None:
    """The booking model's reply, or None when the request is not a booking extraction it knows."""
    if not _asks_for_a_booking(prompt):
        return None
    users = [i for i, turn in enumerate(prompt.turns) if turn.role == "user"]
    item = _utterances().get(_key(prompt.turns[users[0]].text)) if users else None
    if item is None:
        return None
    rng = random.Random(f"{SEED}:{item['id']}")
    mistake = rng.choices([*MISTAKES, None], weights=[*MISTAKES.values(), 100 - sum(MISTAKES.values())])[0]
    if prompt.output.strict and mistake not in STRICT_MISTAKES:
        mistake = None
    if mistake == "refusal":
        return Generation(refusal=REFUSAL)
    gold = item["gold"]
    booking = {**gold, "mentioned": [field for field in FIELDS if gold[field] is not None]}
    corrected = any(turn.role == "assistant" for turn in prompt.turns[users[0]:]) and users[-1] > users[0]
    if corrected:
        return Generation(content=json.dumps(booking))
    for field in ("date", "time"):
        if field in item["spans"] and rng.random() < OWN_WORDS_SHARE:
            booking[field] = item["spans"][field]
    return _with_mistake(booking, mistake, rng)


def _with_mistake(booking: dict, mistake: str | None, rng: random.Random) -> Generation:
    if mistake == "missing_field":  # models like to leave out what they have no value for
        empty = [field for field in FIELDS if booking[field] is None]
        del booking[rng.choice(empty) if empty else "mentioned"]
    elif mistake == "wrong_type":
        people = booking["people"]
        if people is None:
            booking["mentioned"] = ", ".join(booking["mentioned"]) or "none"
        else:
            booking["people"] = _NUMBER_WORDS[people] if people < len(_NUMBER_WORDS) else f"{people} people"
    elif mistake == "bad_enum":
        mentioned = booking["mentioned"]
        booking["mentioned"] = [_SYNONYMS[field] for field in mentioned] if mentioned else ["none"]
    text = json.dumps(booking)
    if mistake == "fenced":
        return Generation(content=f"```json\n{json.dumps(booking, indent=2)}\n```")
    if mistake == "prose":
        return Generation(content=f"Sure! Here is the booking I extracted:\n{text}")
    if mistake == "truncated":
        return Generation(content=text[: len(text) // 2], finish_reason="length")
    return Generation(content=text)
