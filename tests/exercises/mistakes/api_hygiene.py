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
        cell='api-retry-code', part='api-retry', feedback='it ignored retry-after',
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
}
