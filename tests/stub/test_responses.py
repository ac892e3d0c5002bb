"""The Responses API through the real SDK: text, tool round trip, structured output, streaming, errors."""

from __future__ import annotations

import json

import openai
import pytest
from pydantic import BaseModel

from grader.stub import StubLLM

MODEL = "gpt-4.1-mini"
TOOL = {
    "type": "function",
    "name": "lookup_order",
    "description": "Look up an order by id",
    "parameters": {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
        "additionalProperties": False,
    },
    "strict": True,
}


def test_text_with_instructions(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model=MODEL,
        instructions="[a] Tea is grown in Assam.\n[b] Coffee is grown in Brazil.",
        input="Where is coffee grown?",
    )
    assert response.output_text == "Coffee is grown in Brazil. [b]"
    assert response.status == "completed"
    assert response.usage is not None and response.usage.total_tokens > 0


def test_tool_round_trip(client: openai.OpenAI, stub: StubLLM) -> None:
    stub.add_rule(
        when={"user_contains": "order"},
        steps=[
            {"tool_calls": [{"name": "lookup_order", "arguments": {"order_id": "A1"}}]},
            {"content": "Status: {{tool_result}}"},
        ],
    )
    items: list = [{"role": "user", "content": "Where is my order A1?"}]
    first = client.responses.create(model=MODEL, input=items, tools=[TOOL])
    (call,) = [item for item in first.output if item.type == "function_call"]
    assert json.loads(call.arguments) == {"order_id": "A1"}
    items += [
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": "shipped"},
    ]
    second = client.responses.create(model=MODEL, input=items, tools=[TOOL])
    assert second.output_text == "Status: shipped"


class Verdict(BaseModel):
    answer: str
    confident: bool


def test_structured_output_parses(client: openai.OpenAI) -> None:
    parsed = client.responses.parse(model=MODEL, input="Is the sky blue?", text_format=Verdict)
    assert isinstance(parsed.output_parsed, Verdict)
    assert parsed.output_parsed.confident is True


def test_max_output_tokens_makes_it_incomplete(client: openai.OpenAI) -> None:
    response = client.responses.create(model=MODEL, input="Tell me a long story please", max_output_tokens=2)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"


def test_streaming_events_accumulate(client: openai.OpenAI) -> None:
    with client.responses.stream(model=MODEL, input="hello there") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    assert final.output_text == "This is the stub model's reply to: hello there"


def test_streamed_tool_call(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model=MODEL, input="lookup order 7", tools=[TOOL], stream=True))
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert len(done) == 1 and json.loads(done[0].arguments) == {"order_id": "example"}
    assert [e.sequence_number for e in events] == list(range(len(events)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input": "hi", "previous_response_id": "resp_1"}, "Previous response with id 'resp_1' not found"),
        (
            {"input": [{"type": "function_call_output", "call_id": "call_9", "output": "x"}]},
            "No tool call found for function call output with call_id call_9.",
        ),
        (
            {"input": [{"type": "function_call", "call_id": "call_9", "name": "f", "arguments": "{}"}]},
            "No tool output found for function call call_9.",
        ),
    ],
)
def test_rejections(client: openai.OpenAI, kwargs: dict, message: str) -> None:
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.responses.create(model=MODEL, **kwargs)
    assert message in excinfo.value.message


@pytest.mark.anyio
async def test_async_every_endpoint(make_async_client) -> None:
    client = make_async_client(max_retries=0)
    assert (await client.responses.create(model=MODEL, input="hi")).output_text
    assert len((await client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])).data) == 2
    assert "gpt-4o-mini" in {m.id async for m in client.models.list()}
    events = [e.type async for e in await client.responses.create(model=MODEL, input="hi", stream=True)]
    assert events[-1] == "response.completed"
