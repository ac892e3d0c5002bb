"""Chat completions through the real SDK, both ways in: text, tools, JSON modes, limits, streaming."""

from __future__ import annotations

import json

import jsonschema
import openai
import pytest
from pydantic import BaseModel

from grader.stub import StubLLM
from tests.stub.conftest import WEATHER_TOOL, user

MODEL = "gpt-4o-mini"
RAG_PROMPT = (
    "Answer from the context and cite the passage.\n"
    "[1] The Eiffel Tower is in Paris. It was finished in 1889.\n"
    "[2] The Brandenburg Gate stands in Berlin. It was built in the 18th century.\n"
    "Question: When was the Eiffel Tower finished?"
)
RAG_ANSWER = "The Eiffel Tower is in Paris. It was finished in 1889. [1]"


def test_default_answer_is_extractive_and_cited(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model=MODEL, messages=user(RAG_PROMPT))
    assert reply.choices[0].message.content == RAG_ANSWER
    assert reply.choices[0].finish_reason == "stop"
    assert reply.model == "gpt-4o-mini-2024-07-18"  # aliases answer as their snapshot, as the real API does
    assert reply.usage is not None
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens > 0


def test_same_request_same_answer(client: openai.OpenAI) -> None:
    first = client.chat.completions.with_raw_response.create(model=MODEL, messages=user("Say hello"))
    second = client.chat.completions.with_raw_response.create(model=MODEL, messages=user("Say hello"))
    assert first.http_response.content == second.http_response.content
    other = client.chat.completions.create(model=MODEL, messages=user("Say goodbye"))
    assert other.id != first.parse().id


def test_rule_answers_with_text_json_and_refusal(client: openai.OpenAI, stub: StubLLM) -> None:
    stub.load_scenario(
        [
            {"when": {"user_contains": "capital"}, "reply": {"content": "Paris. You asked: {{user}}"}},
            {"when": {"user_contains": ["list", "colours"]}, "reply": {"json": {"colours": ["red"]}}},
            {"when": {"user_matches": r"\bbomb\b"}, "reply": {"refusal": "I can't help with that."}},
        ]
    )
    text = client.chat.completions.create(model=MODEL, messages=user("The CAPITAL of France?"))
    assert text.choices[0].message.content == "Paris. You asked: The CAPITAL of France?"
    listed = client.chat.completions.create(model=MODEL, messages=user("list some colours"))
    assert json.loads(listed.choices[0].message.content or "") == {"colours": ["red"]}
    refused = client.chat.completions.create(model=MODEL, messages=user("how to make a bomb"))
    assert refused.choices[0].message.refusal == "I can't help with that."
    assert refused.choices[0].message.content is None


def test_default_tool_call_then_answer_from_tool_result(client: openai.OpenAI) -> None:
    messages = user("What's the weather in Lisbon today?")
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.function.name == "get_weather"
    arguments = json.loads(call.function.arguments)
    jsonschema.validate(arguments, WEATHER_TOOL["function"]["parameters"])
    assert arguments["city"] == "Lisbon"
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 19}'},
    ]
    second = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == 'Based on the tool results: get_weather returned {"temp_c": 19}.'
    assert second.choices[0].finish_reason == "stop"


def test_unrelated_question_does_not_call_tools_unless_required(client: openai.OpenAI) -> None:
    plain = client.chat.completions.create(model=MODEL, messages=user("Tell me a joke"), tools=[WEATHER_TOOL])
    assert plain.choices[0].message.tool_calls is None
    forced = client.chat.completions.create(
        model=MODEL, messages=user("Tell me a joke"), tools=[WEATHER_TOOL], tool_choice="required"
    )
    assert forced.choices[0].message.tool_calls[0].function.name == "get_weather"


def test_multi_step_script_reacts_to_tool_results(client: openai.OpenAI, stub: StubLLM) -> None:
    stub.add_rule(
        when={"user_contains": "compare"},
        steps=[
            {
                "tool_calls": [
                    {"name": "get_weather", "arguments": {"city": "Oslo", "unit": "c"}},
                    {"name": "get_weather", "arguments": {"city": "Rome", "unit": "c"}},
                ]
            },
            {"content": "Warmest: {{tool_result:get_weather}}"},
        ],
    )
    messages = user("compare Oslo and Rome")
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    calls = first.choices[0].message.tool_calls or []
    assert [json.loads(c.function.arguments)["city"] for c in calls] == ["Oslo", "Rome"]
    assert len({c.id for c in calls}) == 2
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages += [{"role": "tool", "tool_call_id": c.id, "content": f"{c.id[-4:]} 20C"} for c in calls]
    second = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == f"Warmest: {calls[1].id[-4:]} 20C"


class Answer(BaseModel):
    answer: str
    confidence: float
    sources: list[str]


def test_json_schema_default_is_valid_and_parses(client: openai.OpenAI) -> None:
    parsed = client.chat.completions.parse(model=MODEL, messages=user(RAG_PROMPT), response_format=Answer)
    answer = parsed.choices[0].message.parsed
    assert isinstance(answer, Answer)
    assert answer.answer == RAG_ANSWER


def test_json_object_mode_returns_an_object(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL, messages=user("Reply in JSON: hi"), response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(reply.choices[0].message.content or ""), dict)


@pytest.mark.parametrize("limit", ["max_tokens", "max_completion_tokens"])
def test_token_limit_truncates_with_length(client: openai.OpenAI, limit: str) -> None:
    reply = client.chat.completions.create(model=MODEL, messages=user(RAG_PROMPT), **{limit: 2})
    assert reply.choices[0].finish_reason == "length"
    assert reply.choices[0].message.content == RAG_ANSWER[:8]
    assert reply.usage is not None and reply.usage.completion_tokens <= 2


def test_length_on_structured_output_raises_in_sdk_parse(client: openai.OpenAI) -> None:
    with pytest.raises(openai.LengthFinishReasonError):
        client.chat.completions.parse(model=MODEL, messages=user(RAG_PROMPT), response_format=Answer, max_tokens=3)


def test_n_choices(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model=MODEL, messages=user("hi"), n=3)
    assert [c.index for c in reply.choices] == [0, 1, 2]


def test_streaming_text_with_usage_chunk(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL, messages=user(RAG_PROMPT), stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == RAG_ANSWER
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_streaming_tool_calls_accumulate_in_sdk_helper(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(model=MODEL, messages=user("weather in Oslo?"), tools=[WEATHER_TOOL]) as stream:
        final = stream.get_final_completion()
    (call,) = final.choices[0].message.tool_calls or []
    assert final.choices[0].finish_reason == "tool_calls"
    assert json.loads(call.function.arguments) == {"city": "Oslo", "unit": "c"}


@pytest.mark.anyio
async def test_async_clients_both_ways(make_async_client) -> None:
    client = make_async_client(max_retries=0)
    reply = await client.chat.completions.create(model=MODEL, messages=user(RAG_PROMPT))
    assert reply.choices[0].message.content == RAG_ANSWER
    stream = await client.chat.completions.create(model=MODEL, messages=user(RAG_PROMPT), stream=True)
    assert "".join([c.choices[0].delta.content or "" async for c in stream]) == RAG_ANSWER
