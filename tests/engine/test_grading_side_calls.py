"""Objects the checks measure are built on the grading side; timeouts are tested by behaviour (issue 8).

* Replacing ``grader.engine.workspace.FACTORIES`` with a ``chat_call`` that retries by itself
  made a ``call_with_retry`` without a retry loop pass two retry checks. ``make("chat_call")``
  is now a grading-side call: the learner's process holds only a handle that asks the grader,
  which makes one request per call. The swap gains nothing.
* ``x-stainless-read-timeout: 20`` sent as a header with no real timeout earned the
  timeout check. The check now holds a reply longer than the timeout it set and expects the
  client to give up.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader.engine.grade import grade_notebook
from grader.engine.session import Limits

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "01_api_hygiene.ipynb"
LIMITS = Limits(cell_seconds=10, notebook_seconds=90, call_seconds=5, memory_mb=1024)

NO_RETRY_LOOP = """

def call_with_retry(call, **ignored):
    return call()
"""

RETRYING_FACTORY = """
import time
import grader.engine.workspace as _workspace

def _retrying_chat_call(request, client=None):
    import openai
    made = openai.OpenAI(**(client or {}))
    def call():
        for attempt in range(8):
            try:
                return made.chat.completions.create(**request)
            except openai.APIStatusError as error:
                if error.status_code < 500 and error.status_code != 429:
                    raise
                time.sleep(0.05 * 2 ** attempt)
            except openai.APIConnectionError:
                time.sleep(0.05 * 2 ** attempt)
        return made.chat.completions.create(**request)
    return call

_workspace.FACTORIES = {**_workspace.FACTORIES, "chat_call": _retrying_chat_call}
"""

HEADER_ONLY_TIMEOUT = """\
    client = OpenAI(api_key=settings.api_key, base_url=settings.base_url, max_retries=max_retries)
    create = client.chat.completions.create
    client.chat.completions.create = lambda **kw: create(extra_headers={'x-stainless-read-timeout': '20'}, **kw)
    return client
"""


def api_variant(directory: Path, name: str, cell: str, change) -> Path:
    raw = json.loads(SOLUTION.read_text())
    [target] = [c for c in raw["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == cell]
    source = "".join(target["source"])
    target["source"] = change(source)
    assert target["source"] != source, f"{name}: the solution changed; update the variant"
    path = directory / f"{name}.ipynb"
    path.write_text(json.dumps(raw))
    return path


def header_only(source: str) -> str:
    start = source.index("    return OpenAI(")
    end = source.index(")\n", start) + 2
    return source[:start] + HEADER_ONLY_TIMEOUT + source[end:]


VARIANTS = {
    "no_retry_loop": ("api-retry-code", lambda source: source + NO_RETRY_LOOP),
    "no_retry_loop_and_factory_swap": ("api-retry-code", lambda source: source + NO_RETRY_LOOP + RETRYING_FACTORY),
    "timeout_only_in_a_header": ("api-client-code", header_only),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    directory = tmp_path_factory.mktemp("grading-side")
    with ThreadPoolExecutor(2) as pool:
        futures = {name: pool.submit(grade_notebook, api_variant(directory, name, *change), limits=LIMITS)
                   for name, change in VARIANTS.items()}
        yield {name: {part.id: part for part in future.result().parts} for name, future in futures.items()}


def test_swapping_the_factories_gains_nothing(graded):
    plain, swapped = graded["no_retry_loop"]["api-retry"], graded["no_retry_loop_and_factory_swap"]["api-retry"]
    assert swapped.points == plain.points < 2, (plain.feedback, swapped.feedback)
    assert [c.outcome for c in swapped.checks] == [c.outcome for c in plain.checks]


def test_a_timeout_only_in_a_header_is_caught_by_behaviour(graded):
    client = graded["timeout_only_in_a_header"]["api-client"]
    assert client.points < 2
    assert any("instead of giving up" in line and "600 s" in line for line in client.feedback), client.feedback
    others = {part_id: part.points for part_id, part in graded["timeout_only_in_a_header"].items()}
    assert others.pop("api-client") < 2 and sum(others.values()) == 14, others


def test_sample_ask_with_a_timeout_only_in_a_header_loses_the_timeout_check(sample_variant):
    source = ("from openai import OpenAI\n\ndef ask(question, model='gpt-4o-mini'):\n"
              "    client = OpenAI()\n"
              "    response = client.chat.completions.create(\n"
              "        model=model, messages=[{'role': 'user', 'content': question}],\n"
              "        extra_headers={'x-stainless-read-timeout': '20'})\n"
              "    return response.choices[0].message.content\n")
    result = grade_notebook(sample_variant({"sample-ask-code": source}), limits=LIMITS)
    ask = next(part for part in result.parts if part.id == "sample-ask")
    assert ask.points == round(2 * 2 / 3, 2), "the answer is right: only the timeout check (weight 1 of 3) fails"
    assert any("instead of giving up" in line for line in ask.feedback), ask.feedback
