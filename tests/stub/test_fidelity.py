"""Code that passes against the stub must work against the real API: the behaviours that pin it,
each driven through the real SDK (see the conformance table in docs/stub.md)."""

from __future__ import annotations

import json

import numpy as np
import openai
import pytest

from grader.stub import StubLLM
from grader.stub.embedder import embed
from tests.stub.conftest import WEATHER_TOOL, user

CITIES = "What's the weather in Paris, Rome and Oslo?"


def _tool_results(calls: list) -> list[dict]:
    return [{"role": "tool", "tool_call_id": c.id, "content": json.dumps({"temp": 20})} for c in calls]


# -- parallel tool calls ---------------------------------------------------------------------------


def test_a_request_listing_several_places_gets_one_call_per_place(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=user(CITIES), tools=[WEATHER_TOOL])
    calls = reply.choices[0].message.tool_calls
    assert [json.loads(c.function.arguments)["city"] for c in calls] == ["Paris", "Rome", "Oslo"]
    assert len({c.id for c in calls}) == 3
    assert reply.choices[0].finish_reason == "tool_calls"


def test_answering_only_the_first_parallel_call_is_the_real_400(client: openai.OpenAI) -> None:
    messages = user(CITIES)
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL])
    message = reply.choices[0].message
    messages.append(message.model_dump(exclude_none=True))
    with pytest.raises(openai.BadRequestError, match="did not have response messages"):
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[*messages, *_tool_results(message.tool_calls[:1])], tools=[WEATHER_TOOL]
        )
    final = client.chat.completions.create(
        model="gpt-4o-mini", messages=[*messages, *_tool_results(message.tool_calls)], tools=[WEATHER_TOOL]
    )
    assert final.choices[0].message.content.startswith("Based on the tool results")


@pytest.mark.parametrize(
    ("text", "extra", "calls"),
    [
        (CITIES, {"parallel_tool_calls": False}, 1),
        ("What's the weather in New York?", {}, 1),
        ("I'm Ada, what's the weather in Paris?", {}, 1),
        ("Weather in New York or Los Angeles?", {}, 2),
    ],
)
def test_parallel_calls_only_for_an_explicit_list_and_when_allowed(
    stub: StubLLM, text: str, extra: dict, calls: int
) -> None:
    reply = stub.client().chat.completions.create(
        model="gpt-4o-mini", messages=user(text), tools=[WEATHER_TOOL], **extra
    )
    assert len(reply.choices[0].message.tool_calls) == calls


def test_responses_api_makes_parallel_function_calls_too(stub: StubLLM) -> None:
    tool = {"type": "function", **WEATHER_TOOL["function"]}
    reply = stub.client().responses.create(model="gpt-4.1-mini", input=CITIES, tools=[tool])
    assert [json.loads(i.arguments)["city"] for i in reply.output if i.type == "function_call"] == [
        "Paris",
        "Rome",
        "Oslo",
    ]


# -- reasoning models ------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["o4-mini", "gpt-5-mini"])
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"max_tokens": 50}, "Unsupported parameter: 'max_tokens' is not supported with this model. Use "),
        ({"temperature": 0.5}, "Unsupported value: 'temperature' does not support 0.5 with this model."),
        ({"top_p": 0.9}, "Unsupported value: 'top_p' does not support 0.9"),
        ({"logprobs": True}, "Unsupported parameter: 'logprobs' is not supported with this model."),
        ({"presence_penalty": 0.5}, "Unsupported parameter: 'presence_penalty'"),
    ],
)
def test_reasoning_models_reject_sampling_parameters(stub: StubLLM, model: str, extra: dict, message: str) -> None:
    with pytest.raises(openai.BadRequestError, match="^Error code: 400 - " + message.replace("(", r"\(")) as caught:
        stub.client(max_retries=0).chat.completions.create(model=model, messages=user("hi"), **extra)
    assert caught.value.body["param"] == next(iter(extra))


def test_reasoning_models_accept_the_default_temperature_and_max_completion_tokens(stub: StubLLM) -> None:
    reply = stub.client().chat.completions.create(
        model="o4-mini", messages=user("hi"), temperature=1, max_completion_tokens=2000
    )
    details = reply.usage.completion_tokens_details
    assert details.reasoning_tokens > 0
    assert reply.usage.completion_tokens > details.reasoning_tokens
    assert reply.choices[0].message.content


def test_more_effort_spends_more_reasoning_tokens_and_other_models_spend_none(stub: StubLLM) -> None:
    client = stub.client()

    def spent(model: str, **extra: object) -> int:
        reply = client.chat.completions.create(model=model, messages=user("hi"), **extra)
        return reply.usage.completion_tokens_details.reasoning_tokens

    assert spent("gpt-5-mini", reasoning_effort="minimal") == 0
    assert spent("o4-mini", reasoning_effort="low") < spent("o4-mini") < spent("o4-mini", reasoning_effort="high")
    assert spent("gpt-4o-mini") == 0


def test_reasoning_that_uses_the_whole_limit_leaves_an_empty_reply(stub: StubLLM) -> None:
    reply = stub.client().chat.completions.create(model="o4-mini", messages=user("hi"), max_completion_tokens=100)
    choice = reply.choices[0]
    assert (choice.message.content, choice.finish_reason) == ("", "length")
    assert reply.usage.completion_tokens == reply.usage.completion_tokens_details.reasoning_tokens == 100


@pytest.mark.parametrize(
    ("model", "extra", "param", "message"),
    [
        ("gpt-4o-mini", {"reasoning_effort": "low"}, None, "Unrecognized request argument supplied: reasoning_effort"),
        ("o4-mini", {"reasoning_effort": "minimal"}, "reasoning_effort", "does not support 'minimal' with this model"),
        ("gpt-4o-mini", {"verbosity": "low"}, "verbosity", "Supported values are: 'medium'."),
    ],
)
def test_reasoning_parameters_follow_the_model(
    stub: StubLLM, model: str, extra: dict, param: str | None, message: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        stub.client(max_retries=0).chat.completions.create(model=model, messages=user("hi"), **extra)
    assert caught.value.body["param"] == param and message in caught.value.body["message"]


def test_responses_output_starts_with_a_reasoning_item(client: openai.OpenAI) -> None:
    reply = client.responses.create(model="gpt-5-mini", input="hello", reasoning={"effort": "low"})
    assert [item.type for item in reply.output] == ["reasoning", "message"]
    assert reply.output_text  # the SDK's helper finds the text; output[0].content[0].text would not
    assert not getattr(reply.output[0], "content", None)
    assert reply.usage.output_tokens_details.reasoning_tokens > 0
    assert reply.reasoning.effort == "low"


def test_responses_reasoning_that_uses_the_whole_limit_is_incomplete_with_no_message(stub: StubLLM) -> None:
    reply = stub.client().responses.create(model="o4-mini", input="hello", max_output_tokens=64)
    assert reply.status == "incomplete" and reply.incomplete_details.reason == "max_output_tokens"
    assert [item.type for item in reply.output] == ["reasoning"]
    assert reply.output_text == ""


def test_responses_stream_carries_the_reasoning_item(stub: StubLLM) -> None:
    with stub.client().responses.stream(model="o4-mini", input="hello") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds.count("response.output_item.added") == 2
    assert final.output[0].type == "reasoning" and final.output_text


def test_responses_reasoning_effort_on_another_model_is_rejected(stub: StubLLM) -> None:
    with pytest.raises(openai.BadRequestError, match=r"'reasoning\.effort' is not supported with this model"):
        stub.client(max_retries=0).responses.create(model="gpt-4o-mini", input="hi", reasoning={"effort": "low"})


# -- stop, n, logprobs ------------------------------------------------------------------------------


def test_stop_ends_the_content_before_the_stop_sequence(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=user("one two STOP three"), stop=["STOP"])
    content = reply.choices[0].message.content
    assert "STOP" not in content and "three" not in content and content.endswith("one two ")
    assert reply.choices[0].finish_reason == "stop"
    with pytest.raises(openai.BadRequestError, match="maximum length 4"):
        client.chat.completions.create(model="gpt-4o-mini", messages=user("x"), stop=list("abcde"))


def test_n_choices_are_distinct_and_deterministic(client: openai.OpenAI) -> None:
    def ask() -> openai.types.chat.ChatCompletion:
        return client.chat.completions.create(model="gpt-4o-mini", messages=user("Name a colour"), n=3)

    first, again = ask(), ask()
    contents = [c.message.content for c in first.choices]
    assert len(set(contents)) == 3
    assert contents == [c.message.content for c in again.choices]
    single = client.chat.completions.create(model="gpt-4o-mini", messages=user("Name a colour"))
    assert contents[0] == single.choices[0].message.content
    assert first.usage.completion_tokens > 3 * single.usage.completion_tokens - 3


def test_n_tool_call_choices_have_their_own_ids(stub: StubLLM) -> None:
    reply = stub.client().chat.completions.create(
        model="gpt-4o-mini", messages=user("weather in Oslo?"), tools=[WEATHER_TOOL], n=2
    )
    ids = [c.message.tool_calls[0].id for c in reply.choices]
    assert ids[0] != ids[1]


def test_logprobs_cover_each_token_with_the_alternatives_asked_for(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=user("Say hello"), logprobs=True, top_logprobs=3
    )
    choice = reply.choices[0]
    tokens = choice.logprobs.content
    assert "".join(t.token for t in tokens) == choice.message.content
    for t in tokens:
        assert t.logprob <= 0 and bytes(t.bytes).decode() == t.token
        assert t.top_logprobs[0].token == t.token and len(t.top_logprobs) == 3
        assert len({a.token for a in t.top_logprobs}) == 3
        assert all(a.logprob <= t.logprob for a in t.top_logprobs)
    plain = client.chat.completions.create(model="gpt-4o-mini", messages=user("Say hello"))
    assert plain.choices[0].logprobs is None


def test_streamed_logprobs_join_to_the_content(stub: StubLLM) -> None:
    stream = stub.client().chat.completions.create(
        model="gpt-4o-mini", messages=user("Say hello"), logprobs=True, stream=True
    )
    text, tokens = "", ""
    for chunk in stream:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            tokens += "".join(t.token for t in (choice.logprobs.content if choice.logprobs else []))
    assert text and tokens == text


def test_responses_logprobs_with_include(stub: StubLLM) -> None:
    reply = stub.client().responses.create(
        model="gpt-4.1-mini", input="Say hello", include=["message.output_text.logprobs"], top_logprobs=2
    )
    part = reply.output[0].content[0]
    assert "".join(t.token for t in part.logprobs) == part.text
    assert all(len(t.top_logprobs) == 2 for t in part.logprobs)


# -- unknown and unmodelled parameters -------------------------------------------------------------


@pytest.mark.parametrize("name", ["max_token", "temprature", "bogus_param"])
def test_unknown_parameters_are_the_real_400(client: openai.OpenAI, name: str) -> None:
    with pytest.raises(openai.BadRequestError, match=f"Unrecognized request argument supplied: {name}$"):
        client.chat.completions.create(model="gpt-4o-mini", messages=user("hi"), extra_body={name: 1})


def test_unknown_parameters_on_every_endpoint(stub: StubLLM) -> None:
    client = stub.client(max_retries=0)
    with pytest.raises(openai.BadRequestError, match="arguments supplied: bogus, other"):
        client.responses.create(model="gpt-4.1-mini", input="hi", extra_body={"bogus": 1, "other": 2})
    with pytest.raises(openai.BadRequestError, match="argument supplied: bogus"):
        client.embeddings.create(model="text-embedding-3-small", input="hi", extra_body={"bogus": 1})


def test_unmodelled_features_are_refused_not_ignored(stub: StubLLM) -> None:
    client = stub.client(max_retries=0)
    with pytest.raises(openai.BadRequestError, match="does not model 'audio'") as caught:
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=user("hi"),
            modalities=["text", "audio"],
            audio={"voice": "alloy", "format": "wav"},
        )
    assert caught.value.code == "unsupported_by_stub"
    assert client.chat.completions.create(model="gpt-4o-mini", messages=user("hi"), modalities=["text"]).choices
    with pytest.raises(openai.BadRequestError, match="does not model 'background'"):
        client.responses.create(model="gpt-4.1-mini", input="hi", background=True)


# -- stored responses --------------------------------------------------------------------------------


def test_previous_response_id_continues_the_stored_conversation(client: openai.OpenAI, stub: StubLLM) -> None:
    stub.add_rule(when={"any_contains": "My name is Ada", "user_contains": "my name?"}, reply={"content": "Ada."})
    first = client.responses.create(model="gpt-4.1-mini", input="My name is Ada.")
    second = client.responses.create(model="gpt-4.1-mini", input="What is my name?", previous_response_id=first.id)
    assert second.output_text == "Ada." and second.previous_response_id == first.id
    unrelated = client.responses.create(model="gpt-4.1-mini", input="What is my name?")
    assert unrelated.output_text != "Ada."


def test_stored_responses_can_be_retrieved_listed_and_deleted(client: openai.OpenAI) -> None:
    reply = client.responses.create(model="gpt-4.1-mini", input="hello")
    assert client.responses.retrieve(reply.id).model_dump() == reply.model_dump()
    items = client.responses.input_items.list(reply.id).data
    assert [(i.type, i.role, i.content[0].text) for i in items] == [("message", "user", "hello")]
    client.responses.delete(reply.id)
    with pytest.raises(openai.NotFoundError, match=f"Response with id '{reply.id}' not found"):
        client.responses.retrieve(reply.id)


def test_a_follow_up_carries_function_calls_and_reasoning_items(stub: StubLLM) -> None:
    client = stub.client()
    tool = {"type": "function", **WEATHER_TOOL["function"]}
    first = client.responses.create(model="o4-mini", input="weather in Oslo?", tools=[tool])
    call = next(i for i in first.output if i.type == "function_call")
    second = client.responses.create(
        model="o4-mini",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": '{"temp": 3}'}],
        tools=[tool],
    )
    assert "get_weather returned" in second.output_text


def test_unstored_and_unknown_responses_cannot_be_continued(stub: StubLLM) -> None:
    client = stub.client(max_retries=0)
    unstored = client.responses.create(model="gpt-4.1-mini", input="hello", store=False)
    for rid in (unstored.id, "resp_nope"):
        with pytest.raises(openai.BadRequestError, match=f"Previous response with id '{rid}' not found") as caught:
            client.responses.create(model="gpt-4.1-mini", input="again", previous_response_id=rid)
        assert caught.value.code == "previous_response_not_found"
    stored = client.responses.create(model="gpt-4.1-mini", input="hello")
    stub.reset()
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(stored.id)


def test_each_stub_keeps_its_own_responses() -> None:
    one, other = StubLLM(), StubLLM()
    reply = one.client().responses.create(model="gpt-4.1-mini", input="hello")
    with pytest.raises(openai.NotFoundError):
        other.client(max_retries=0).responses.retrieve(reply.id)


def test_conversation_is_not_silently_ignored(stub: StubLLM) -> None:
    with pytest.raises(openai.NotFoundError, match="Conversation with id 'conv_1' not found"):
        stub.client(max_retries=0).responses.create(model="gpt-4.1-mini", input="hi", conversation="conv_1")


# -- embeddings ---------------------------------------------------------------------------------------


def _vectors(client: openai.OpenAI, model: str, texts: list[str], **extra: object) -> np.ndarray:
    reply = client.embeddings.create(model=model, input=texts, **extra)
    return np.array([d.embedding for d in reply.data])


def test_each_embedding_model_has_its_own_vectors(stub: StubLLM) -> None:
    client = stub.client()
    texts = ["the cat sat on the mat", "a cat on a mat", "stock market news"]
    small = _vectors(client, "text-embedding-3-small", texts, dimensions=256)
    large = _vectors(client, "text-embedding-3-large", texts, dimensions=256)
    assert abs(float(small[0] @ large[0])) < 0.3  # different models: not comparable
    np.testing.assert_allclose(small @ small.T, large @ large.T, atol=1e-5)  # same similarities within each
    ada = _vectors(client, "text-embedding-ada-002", texts)
    assert not np.allclose(ada, _vectors(client, "text-embedding-3-small", texts))
    np.testing.assert_array_equal(small, embed(texts, 256))  # 3-small is the embedder's own space


def test_embeddings_are_lexical_as_documented(stub: StubLLM) -> None:
    car, automobile = _vectors(stub.client(), "text-embedding-3-large", ["car", "automobile"])
    assert abs(float(car @ automobile)) < 0.05
