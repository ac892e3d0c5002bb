"""The API-hygiene exercise's common mistakes: see ``tests/exercises/mistakes/__init__.py``."""

from tests.exercises.mistakes import Mistake

MISTAKES = {
    'client_without_timeout': Mistake(
        cell='api-client-code', part='api-client', feedback='the SDK default is 600 s',
        find='timeout=settings.timeout,\n                  ',
        replace=''),
    'key_in_repr': Mistake(
        cell='api-client-code', part='api-client', feedback='repr(settings) shows the API key',
        find="api_key='[redacted]'",
        replace='api_key={self.api_key!r}'),
    'missing_key_is_not_an_error': Mistake(
        cell='api-client-code', part='api-client', feedback='a missing key should stop the program at start-up',
        find='if not api_key:',
        replace='if api_key is None:'),
    'retries_a_400': Mistake(
        cell='api-retry-code', part='api-retry', feedback='call_with_retry retried a',
        find='    if isinstance(error, openai.APIConnectionError):',
        replace='    return isinstance(error, openai.OpenAIError)\n    if isinstance(error, openai.APIConnectionError):'),
    'ignores_retry_after': Mistake(
        cell='api-retry-code', part='api-retry', feedback='it ignored the `retry-after` header',
        find='wait = retry_after_seconds(error)',
        replace='wait = None'),
    'fixed_sleep': Mistake(
        cell='api-retry-code', part='api-retry', feedback='slept the same time before every retry',
        find='random.uniform(0, min(max_delay, base_delay * 2 ** (attempt - 1)))',
        replace='base_delay'),
    'retries_forever': Mistake(
        cell='api-retry-code', part='api-retry', feedback='it retried beyond its limit (forever',
        find='    for attempt in range(1, max_attempts + 1):\n',
        replace="    attempt = 0\n    while True:\n        attempt += 1\n        max_attempts = give_up_at = float('inf')\n"),
    'swallows_the_error': Mistake(
        cell='api-retry-code', part='api-retry', feedback='it swallowed the error',
        find='raise RetryError(attempt, error) from error',
        replace='return None'),
    'counts_tokens_only_on_success': Mistake(
        cell='api-cost-code', part='api-cost', feedback='It counted tokens only on success',
        find='    ledger.record(response.usage, model)\n    choice = response.choices[0]\n    if choice.finish_reason == "length":\n        raise IncompleteAnswer(f"the answer was cut off at max_tokens={max_tokens}")\n',
        replace='    choice = response.choices[0]\n    if choice.finish_reason == "length":\n        raise IncompleteAnswer(f"the answer was cut off at max_tokens={max_tokens}")\n    ledger.record(response.usage, model)\n'),
    'cached_tokens_at_full_price': Mistake(
        cell='api-cost-code', part='api-cost', feedback='charged cached tokens at the full input price',
        find='uncached = prompt_tokens - cached_tokens',
        replace='uncached, cached_tokens = prompt_tokens, 0'),
    'budget_checked_after_the_call': Mistake(
        cell='api-cost-code', part='api-cost', feedback='refused only afterwards: check the budget before the call',
        find='    ledger.check_budget(model, messages, max_tokens)\n    response = client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens, **params)\n',
        replace='    response = client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens, **params)\n    ledger.check_budget(model, messages, max_tokens)\n'),
    'cache_key_depends_on_dict_order': Mistake(
        cell='api-cache-code', part='api-cache', feedback='the cache key depends on dict order',
        find='canonical = json.dumps(request, sort_keys=True,',
        replace='canonical = json.dumps(request,'),
    'cache_key_ignores_parameters': Mistake(
        cell='api-cache-code', part='api-cache', feedback='gave the same key to two requests that differ in',
        find='canonical = json.dumps(request,',
        replace="canonical = json.dumps(request['messages'],"),
    'semaphore_one_short': Mistake(
        cell='api-concurrency-code', part='api-concurrency', feedback='it uses fewer than allowed',
        find='semaphore = asyncio.Semaphore(max_in_flight)',
        replace='semaphore = asyncio.Semaphore(max(1, max_in_flight - 1))'),
    'unbounded_gather': Mistake(
        cell='api-concurrency-code', part='api-concurrency', feedback='unbounded asyncio.gather fires every request together',
        find='async with semaphore:',
        replace='if semaphore:'),
    'results_out_of_order': Mistake(
        cell='api-concurrency-code', part='api-concurrency', feedback='results are not in the order of the prompts',
        find='return list(await asyncio.gather(*(answer(prompt) for prompt in prompts)))',
        replace='return [await done for done in asyncio.as_completed([answer(prompt) for prompt in prompts])]'),
    'one_failure_loses_all': Mistake(
        cell='api-concurrency-code', part='api-concurrency', feedback='one failure lost all',
        find='            except Exception as error:',
        replace='            except ZeroDivisionError as error:'),
    'key_in_a_log_line': Mistake(
        cell='api-logging-code', part='api-logging', feedback='The log line contains the API key',
        find='        call_logger.info(json.dumps(redact(record)))',
        replace="        record['client'] = {'base_url': str(client.base_url), 'api_key': client.api_key}\n        call_logger.info(json.dumps(record))"),
    'failures_not_logged': Mistake(
        cell='api-logging-code', part='api-logging', feedback='A failed call logged 0 JSON record(s)',
        find='        return response\n    finally:\n        record["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)\n        call_logger.info(json.dumps(redact(record)))\n',
        replace='        record["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)\n        call_logger.info(json.dumps(redact(record)))\n        return response\n'),
    'settings_not_stripped': Mistake(
        cell='api-client-code', part='api-client', feedback='strip the whitespace around each value',
        find='base_url = (env.get("OPENAI_BASE_URL") or "").strip() or None',
        replace='base_url = env.get("OPENAI_BASE_URL") or None'),
    'retries_insufficient_quota': Mistake(
        cell='api-retry-code', part='api-retry', feedback="call_with_retry retried a 429 insufficient_quota",
        find='return getattr(error, "code", None) != "insufficient_quota"',
        replace='return True'),
    'caps_retry_after': Mistake(
        cell='api-retry-code', part='api-retry', feedback="it capped the server's `retry-after` at max_delay",
        find='            if wait is None:\n',
        replace='            if wait is not None:\n                wait = min(wait, max_delay)\n            if wait is None:\n'),
    'ignores_retry_after_ms': Mistake(
        cell='api-retry-code', part='api-retry', feedback='it ignored the `retry-after-ms` header',
        find='(("retry-after-ms", 0.001), ("retry-after", 1.0))',
        replace='(("retry-after", 1.0),)'),
    'retry_after_ms_as_seconds': Mistake(
        cell='api-retry-code', part='api-retry', feedback='it read `retry-after-ms` as seconds',
        find='("retry-after-ms", 0.001)',
        replace='("retry-after-ms", 1.0)'),
    'retry_after_zero_as_no_header': Mistake(
        cell='api-retry-code', part='api-retry', feedback='it treated `retry-after: 0` as no header',
        find='seconds >= 0',
        replace='seconds > 0'),
    'backoff_one_step_early': Mistake(
        cell='api-retry-code', part='api-retry', feedback='its backoff grows one step too early',
        find='2 ** (attempt - 1)',
        replace='2 ** attempt'),
    'latency_always_zero': Mistake(
        cell='api-logging-code', part='api-logging', feedback='latency_ms is 0 for a call that took',
        find='record["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)',
        replace='record["latency_ms"] = 0'),
    'latency_in_seconds': Mistake(
        cell='api-logging-code', part='api-logging', feedback='that is seconds; multiply by 1000',
        find='record["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)',
        replace='record["latency_ms"] = time.perf_counter() - started'),
    'make_client_ignores_base_url': Mistake(
        cell='api-client-code', part='api-client', feedback='make_client(settings) did not use settings.base_url',
        find='base_url=settings.base_url, ',
        replace=''),
    'retries_its_own_bugs': Mistake(
        cell='api-retry-code', part='api-retry', feedback='call_with_retry retried a TypeError',
        find='        return error.status_code >= 500\n    return False\n',
        replace='        return error.status_code >= 500\n    return True\n'),
    'estimate_rounds_down': Mistake(
        cell='api-cost-code', part='api-cost', feedback='it rounded down; round up (math.ceil)',
        find='math.ceil(text / 3)',
        replace='text // 3'),
    'complete_drops_max_tokens': Mistake(
        cell='api-cost-code', part='api-cost', feedback='complete(..., max_tokens=50) sent max_tokens=None',
        find='messages=messages, max_tokens=max_tokens, **params)',
        replace='messages=messages, **params)'),
}
