"""Checks for the sample exercise (``solutions/00_sample.ipynb``), which proves the machinery.

It has one pure-Python part and one that calls the LLM, decided from the stub's request
log (kept in the grading process, out of the learner code's reach).

PYTEST_DONT_REWRITE: feedback is the assert message as written, under pytest too.
"""

from __future__ import annotations

import math

from grader.checks import LearnerRaised, kind, part


@part("sample-mean", hint="Add the values up and divide by how many there are.")
def test_mean_of_random_lists(nb, rng, quick):
    edge_cases = [[rng.randint(-1000, 1000)], [rng.randint(-1000, -1) for _ in range(rng.randint(2, 5))]]
    random_lists = [[rng.randint(-1000, 1000) for _ in range(rng.randint(2, 12))] for _ in range(1 if quick else 23)]
    for values in edge_cases + random_lists:  # one element and all-negative: always, never left to luck
        expected = sum(values) / len(values)
        got = nb.mean(values)
        assert type(got) is float, f"mean({values}) returned {got!r} (type {kind(got)}), expected a float."
        assert math.isclose(got, expected), f"mean({values}) returned {got!r}, expected {expected!r}."


@part("sample-mean", hint="An empty list has no mean: return 0.0 instead of dividing by zero.")
def test_mean_of_empty_list(nb):
    got = nb.mean([])
    assert type(got) is float and got == 0.0, f"mean([]) returned {got!r}, expected 0.0."


NO_REQUEST = ("ask() did not call the chat completions API of the stub LLM. Create the client inside "
              "ask() with OpenAI(...), which reads OPENAI_BASE_URL and OPENAI_API_KEY when it is created.")


def _chat_requests(stub):
    return [r for r in stub.requests if r.path.endswith("/chat/completions")]


@part("sample-ask", weight=2,
      hint="Send the question as a user message and return response.choices[0].message.content.")
def test_ask_returns_the_model_answer(nb, stub, rng):
    code = f"{rng.randrange(16**8):08x}"
    question = f"What is the code word for ticket {rng.randrange(10**6)}?"
    stub.add_rule({"when": {"user_contains": question}, "reply": {"content": f"The code word is {code}."}})
    got = nb.ask(question)
    sent = _chat_requests(stub)
    assert sent, NO_REQUEST
    assert len(sent) == 1, f"ask() made {len(sent)} API calls for one question; one is enough."
    last = sent[0].body["messages"][-1]
    assert last == {"role": "user", "content": question}, (
        f"The last message sent was {last!r}; it should be the user's question.")
    assert got == f"The code word is {code}.", f"ask() returned {got!r} instead of the model's answer."


NETWORK_TIME_SCALE = 400  # in the check below, one real second is 400 s to the learner's client
HELD_REPLY = 0.3  # real seconds the stub holds the first reply: 120 s to the client


@part("sample-ask", hint="Pass timeout=... (a few seconds to a minute) to OpenAI(...).")
def test_ask_gives_up_on_a_slow_answer(nb, stub):
    stub.queue_fault("delay", seconds=HELD_REPLY)
    with nb.network_time_scaled(NETWORK_TIME_SCALE):
        try:
            nb.ask("Say hello.")
        except LearnerRaised as error:
            if error.is_a("NotImplementedError"):
                raise
            abandoned = error.is_a("openai.APITimeoutError")
        else:  # the SDK's own retry (on by default) follows a reply it gave up on
            sent = _chat_requests(stub)
            abandoned = len(sent) >= 2 and sent[1].retry_count >= 1
    assert _chat_requests(stub), NO_REQUEST
    waited = HELD_REPLY * NETWORK_TIME_SCALE
    assert abandoned, (
        f"ask() waited {waited:g} s for an answer instead of giving up (the SDK default is 600 s); "
        "a hung request would block your program for ten minutes.")
