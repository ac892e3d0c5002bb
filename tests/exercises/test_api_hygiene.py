"""The API-hygiene notebook: full marks for the solution, zero for the exercise, and each
common mistake (one deliberately wrong variant of the solution per mistake) loses points in
exactly its own part, with feedback that names the mistake.

Grading a notebook takes a couple of seconds (a child process importing ``openai``), so all
the gradings start together on first use and run two at a time.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from grader.engine import result as R
from grader.engine.grade import grade_notebook
from grader.engine.session import Limits

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "01_api_hygiene.ipynb"
EXERCISE = ROOT / "exercises" / "01_api_hygiene.ipynb"
LIMITS = Limits(cell_seconds=10, notebook_seconds=60, call_seconds=5, memory_mb=1024)
PARTS = {"api-client": 2, "api-retry": 4, "api-cost": 3, "api-cache": 2, "api-concurrency": 3, "api-logging": 2}

# name: (answer cell, text in the solution, replacement, part that must lose points, feedback naming the mistake)
MISTAKES = {
    "client_without_timeout": (
        "api-client-code", "timeout=settings.timeout,\n                  ", "",
        "api-client", "the SDK default is 600 s"),
    "key_in_repr": (
        "api-client-code", "api_key='[redacted]'", "api_key={self.api_key!r}",
        "api-client", "repr(settings) shows the API key"),
    "missing_key_is_not_an_error": (
        "api-client-code", "if not api_key:", "if api_key is None:",
        "api-client", "a missing key should stop the program at start-up"),
    "retries_a_400": (
        "api-retry-code", "    if isinstance(error, openai.APIConnectionError):",
        "    return isinstance(error, openai.OpenAIError)\n    if isinstance(error, openai.APIConnectionError):",
        "api-retry", "call_with_retry retried a"),
    "ignores_retry_after": (
        "api-retry-code", "wait = retry_after_seconds(error)", "wait = None",
        "api-retry", "it ignored retry-after"),
    "fixed_sleep": (
        "api-retry-code", "random.uniform(0, min(max_delay, base_delay * 2 ** (attempt - 1)))", "base_delay",
        "api-retry", "slept the same time before every retry"),
    "retries_forever": (
        "api-retry-code",
        "    for attempt in range(1, max_attempts + 1):\n",
        "    attempt = 0\n    while True:\n        attempt += 1\n        max_attempts = give_up_at = float('inf')\n",
        "api-retry", "it retried beyond its limit (forever"),
    "swallows_the_error": (
        "api-retry-code", "raise RetryError(attempt, error) from error", "return None",
        "api-retry", "it swallowed the error"),
    "counts_tokens_only_on_success": (
        "api-cost-code",
        "    ledger.record(response.usage, model)\n    choice = response.choices[0]\n"
        "    if choice.finish_reason == \"length\":\n"
        "        raise IncompleteAnswer(f\"the answer was cut off at max_tokens={max_tokens}\")\n",
        "    choice = response.choices[0]\n    if choice.finish_reason == \"length\":\n"
        "        raise IncompleteAnswer(f\"the answer was cut off at max_tokens={max_tokens}\")\n"
        "    ledger.record(response.usage, model)\n",
        "api-cost", "It counted tokens only on success"),
    "cached_tokens_at_full_price": (
        "api-cost-code", "uncached = prompt_tokens - cached_tokens", "uncached, cached_tokens = prompt_tokens, 0",
        "api-cost", "charged cached tokens at the full input price"),
    "budget_checked_after_the_call": (
        "api-cost-code",
        "    ledger.check_budget(model, messages, max_tokens)\n"
        "    response = client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens, "
        "**params)\n",
        "    response = client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens, "
        "**params)\n    ledger.check_budget(model, messages, max_tokens)\n",
        "api-cost", "refused only afterwards: check the budget before the call"),
    "cache_key_depends_on_dict_order": (
        "api-cache-code", "canonical = json.dumps(request, sort_keys=True,", "canonical = json.dumps(request,",
        "api-cache", "the cache key depends on dict order"),
    "cache_key_ignores_parameters": (
        "api-cache-code", "canonical = json.dumps(request,", "canonical = json.dumps(request['messages'],",
        "api-cache", "gave the same key to two requests that differ in"),
    "unbounded_gather": (
        "api-concurrency-code", "async with semaphore:", "if semaphore:",
        "api-concurrency", "unbounded asyncio.gather fires every request together"),
    "results_out_of_order": (
        "api-concurrency-code",
        "return list(await asyncio.gather(*(answer(prompt) for prompt in prompts)))",
        "return [await done for done in asyncio.as_completed([answer(prompt) for prompt in prompts])]",
        "api-concurrency", "results are not in the order of the prompts"),
    "one_failure_loses_all": (
        "api-concurrency-code", "            except Exception as error:",
        "            except ZeroDivisionError as error:",
        "api-concurrency", "one failure lost all"),
    "key_in_a_log_line": (
        "api-logging-code", "        call_logger.info(json.dumps(redact(record)))",
        "        record['client'] = {'base_url': str(client.base_url), 'api_key': client.api_key}\n"
        "        call_logger.info(json.dumps(record))",
        "api-logging", "The log line contains the API key"),
    "failures_not_logged": (
        "api-logging-code",
        "        return response\n    finally:\n"
        "        record[\"latency_ms\"] = round((time.perf_counter() - started) * 1000, 3)\n"
        "        call_logger.info(json.dumps(redact(record)))\n",
        "        record[\"latency_ms\"] = round((time.perf_counter() - started) * 1000, 3)\n"
        "        call_logger.info(json.dumps(redact(record)))\n        return response\n",
        "api-logging", "A failed call logged 0 JSON record(s)"),
}


def cell_sources(path: Path) -> dict[str, str]:
    cells = json.loads(path.read_text())["cells"]
    return {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"]) for c in cells}


def write_variant(directory: Path, name: str) -> Path:
    cell_id, old, new, _, _ = MISTAKES[name]
    raw = json.loads(SOLUTION.read_text())
    for cell in raw["cells"]:
        if cell["metadata"]["nbgrader"]["grade_id"] == cell_id:
            source = "".join(cell["source"])
            assert source.count(old) >= 1, f"{name}: the solution cell {cell_id} no longer contains {old!r}"
            cell["source"] = source.replace(old, new)
    path = directory / f"{name}.ipynb"
    path.write_text(json.dumps(raw))
    return path


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, Future]:
    """Every grading this module needs, started at once, two at a time."""
    directory = tmp_path_factory.mktemp("api_hygiene")
    paths = {"solution": SOLUTION, "exercise": EXERCISE}
    paths.update({name: write_variant(directory, name) for name in MISTAKES})
    pool = ThreadPoolExecutor(2)
    futures = {name: pool.submit(grade_notebook, path, limits=LIMITS) for name, path in paths.items()}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


def points(result: R.Result) -> dict[str, float]:
    return {part.id: part.points for part in result.parts}


def test_solution_gets_full_marks(graded):
    result = graded["solution"].result()
    assert result.status == R.GRADED and not result.cell_errors
    assert points(result) == PARTS, [part.feedback for part in result.parts if part.points < part.max_points]
    assert result.score == result.max_score == sum(PARTS.values())


def test_exercise_gets_zero_without_grader_errors(graded):
    result = graded["exercise"].result()
    assert result.status == R.GRADED and not result.cell_errors
    assert result.score == 0 and result.max_score == sum(PARTS.values())
    outcomes = [check for part in result.parts for check in part.checks]
    assert not [c for c in outcomes if c.outcome == R.CHECK_ERROR]
    assert all("Not answered yet" in part.feedback[0] for part in result.parts)


def test_every_mistake_is_a_different_change():
    sources = cell_sources(SOLUTION)
    for name, (cell_id, old, _new, part, _message) in MISTAKES.items():
        assert old in sources[cell_id], name
        assert cell_id == f"{part}-code", name


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_mistake_loses_points_only_in_its_part(graded, name):
    _, _, _, part_id, message = MISTAKES[name]
    result = graded[name].result()
    assert result.status == R.GRADED and not result.cell_errors, result.cell_errors
    got = points(result)
    assert got[part_id] < PARTS[part_id], f"{name} was not caught"
    others = {part: value for part, value in got.items() if part != part_id}
    assert others == {part: value for part, value in PARTS.items() if part != part_id}, (
        f"{name} also cost points elsewhere: {others}")
    feedback = "\n".join(next(part for part in result.parts if part.id == part_id).feedback)
    assert message in feedback, feedback
    checks = [check for part in result.parts for check in part.checks]
    assert not [c for c in checks if c.outcome == R.CHECK_ERROR], "a check crashed on a wrong answer"


def run_answer_cells(path: Path) -> dict:
    """The namespace a kernel has after running the answer cells and the locked helper cells
    (not the setup cell, which would start a stub and set environment variables here)."""
    namespace = {"__name__": "__main__"}
    for cell in json.loads(path.read_text())["cells"]:
        grade_id = cell["metadata"]["nbgrader"]["grade_id"]
        if cell["cell_type"] == "code" and (grade_id.endswith("-code") or grade_id.endswith("-setup")) \
                and grade_id != "api-setup":
            exec(compile("".join(cell["source"]), f"<{grade_id}>", "exec"), namespace)
    return namespace


def test_live_check_of_the_retry_part_gives_full_points(capsys):
    """Its speed (well under a second) is measured by benchmarks/bench_check.py, not asserted here."""
    from grader.engine.clock import install
    from grader.engine.live import check

    install()  # what importing grader does in a kernel: sleeps become virtual while a check runs
    namespace = run_answer_cells(SOLUTION)
    check("api-client", namespace=namespace)  # warm-up: starts the kernel's stub once
    assert check("api-retry", namespace=namespace) == PARTS["api-retry"], capsys.readouterr().out
    assert "api-retry" in capsys.readouterr().out


@pytest.mark.slow
def test_solution_renders_to_html_without_errors(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--output-dir", str(tmp_path), str(SOLUTION)],
        capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert "error" not in completed.stderr.lower(), completed.stderr
    html = (tmp_path / "01_api_hygiene.html").read_text()
    body = re.sub(r"<(style|script)\b.*?</\1>", "", html, flags=re.DOTALL)
    assert "Traceback" not in body
    assert "application/vnd.jupyter.stderr" not in body and "jp-OutputArea-output" not in body
    assert "Part 6: structured logging" in body and "<table" in body, "the markdown did not render"
