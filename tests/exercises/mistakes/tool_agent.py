"""The tool-agent exercise's common mistakes: see ``tests/exercises/mistakes/__init__.py``."""

from tests.exercises.mistakes import Mistake

MISTAKES = {
    'required_parameter_marked_optional': Mistake(
        cell='agent-schemas-code', part='agent-schemas', feedback='marked the required parameter',
        find='if strict and has_default:',
        replace='if strict:'),
    'union_read_as_optional': Mistake(
        cell='agent-schemas-code', part='agent-schemas', feedback='does not allow None',
        find='if len(kept) == 1 and len(args) == 2:',
        replace='if len(args) == 2:'),
    'dict_left_as_a_json_schema_type': Mistake(
        cell='agent-schemas-code', part='agent-schemas', feedback="left BFCL's type",
        find='converted["properties"] = {name: bfcl_schema(inner) for name, inner in value.items()}',
        replace='converted["properties"] = value'),
    'literal_without_enum': Mistake(
        cell='agent-schemas-code', part='agent-schemas', feedback='a Literal becomes an enum',
        find='return {"type": JSON_TYPES[type(args[0])], "enum": list(args)}',
        replace='return {"type": JSON_TYPES[type(args[0])]}'),
    'strict_schema_without_additional_properties': Mistake(
        cell='agent-schemas-code', part='agent-schemas', feedback='breaks strict mode',
        find='"required": required,\n                               "additionalProperties": False}}',
        replace='"required": required}}'),
    'executes_unvalidated_arguments': Mistake(
        cell='agent-errors-code', part='agent-errors', feedback='ran a tool with arguments that do not validate',
        find='    problems = validate_arguments(parsed, schema)\n    if problems:\n',
        replace='    problems = validate_arguments(parsed, schema)\n    if problems and not functions:\n'),
    'crashes_on_invalid_json': Mistake(
        cell='agent-errors-code', part='agent-errors', feedback='crashed on arguments that are not valid JSON',
        find='except (TypeError, ValueError) as error:',
        replace='except TypeError as error:'),
    'a_bool_passes_as_an_integer': Mistake(
        cell='agent-errors-code', part='agent-errors', feedback='accepted a bool where an integer is expected',
        find='        return type(value) is int\n',
        replace='        return isinstance(value, int)\n'),
    'tool_exception_crashes_the_agent': Mistake(
        cell='agent-errors-code', part='agent-errors', feedback='raised on a tool that raises',
        find='    try:\n        result = function(**parsed)\n    except Exception as error:\n'
             '        return tool_error(f"{name} failed: {type(error).__name__}: {error}")\n',
        replace='    result = function(**parsed)\n'),
    'tool_result_not_json_encodable': Mistake(
        cell='agent-errors-code', part='agent-errors', feedback='is not JSON serializable',
        find='return json.dumps(result, default=str)',
        replace='return json.dumps(result)'),
    'drops_the_assistant_message': Mistake(
        cell='agent-loop-code', part='agent-loop', feedback='dropped the assistant message before the tool results',
        find='        messages.append(assistant_message(message))\n        if not calls:\n',
        replace='        if not calls:\n            messages.append(assistant_message(message))\n'),
    'run_agent_mutates_messages': Mistake(
        cell='agent-loop-code', part='agent-loop', feedback="messages to the caller's messages list",
        find='    messages = list(messages)\n    used = 0\n',
        replace='    used = 0\n'),
    'answers_only_the_first_parallel_call': Mistake(
        cell='agent-loop-code', part='agent-loop', feedback='answered only some of the parallel calls',
        find='        for call in calls:\n',
        replace='        for call in calls[:1]:\n'),
    'wrong_tool_call_id': Mistake(
        cell='agent-loop-code', part='agent-loop', feedback='sent a wrong tool_call_id',
        find='"tool_call_id": call.id,',
        replace='"tool_call_id": response.id,'),
    'no_step_limit': Mistake(
        cell='agent-loop-code', part='agent-loop', feedback='no step limit',
        find='    for step in range(1, max_steps + 1):\n',
        replace='    step = 0\n    while True:\n        step += 1\n'),
    'token_budget_ignored': Mistake(
        cell='agent-loop-code', part='agent-loop', feedback='it ignored the token budget',
        find='if max_total_tokens is not None and used >= max_total_tokens:',
        replace='if max_total_tokens is not None and used >= max_total_tokens * 100:'),
    'refund_without_confirmation': Mistake(
        cell='agent-guardrails-code', part='agent-guardrails', feedback='a refund without confirmation',
        find='        if not approve(name, arguments):\n',
        replace='        if name != "refund_order" and not approve(name, arguments):\n'),
    'refund_above_the_amount_paid': Mistake(
        cell='agent-guardrails-code', part='agent-guardrails', feedback='let a refund above the amount paid',
        find='0 < amount <= left',
        replace='0 < amount <= order["total"]'),
    'trace_loses_failed_steps': Mistake(
        cell='agent-trace-code', part='agent-trace', feedback='the trace lost the failed step',
        find='        error = str(parsed["error"]) if isinstance(parsed, dict) and "error" in parsed else None\n',
        replace='        error = str(parsed["error"]) if isinstance(parsed, dict) and "error" in parsed else None\n'
                '        if error:\n            return\n'),
    'model_latency_in_seconds': Mistake(
        cell='agent-loop-code', part='agent-trace', feedback='that is seconds; multiply by 1000',
        find='latency_ms = (time.perf_counter() - started) * 1000',
        replace='latency_ms = time.perf_counter() - started'),
    'model_latency_divided_by_1000': Mistake(
        cell='agent-loop-code', part='agent-trace', feedback='multiply the difference (seconds) by 1000',
        find='latency_ms = (time.perf_counter() - started) * 1000',
        replace='latency_ms = (time.perf_counter() - started) / 1000'),
    'tool_timed_from_the_model_call': Mistake(
        cell='agent-loop-code', part='agent-trace', feedback='time each tool call itself',
        find='        for call in calls:\n            started = time.perf_counter()\n',
        replace='        for call in calls:\n'),
    'only_pending_orders_cancelled': Mistake(
        cell='agent-guardrails-code', part='agent-guardrails', feedback='which the policy allows',
        find='order["status"] not in ("pending", "processing")',
        replace='order["status"] != "pending"'),
    'refund_amount_not_checked_as_a_number': Mistake(
        cell='agent-guardrails-code', part='agent-guardrails', feedback='a refund whose amount is not a number',
        find='if not (type(amount) in (int, float) and 0 < amount <= left):',
        replace='if not 0 < amount <= left:'),
    'success_judged_by_the_final_text': Mistake(
        cell='agent-eval-code', part='agent-eval', feedback='success judged by the final text instead of the state',
        find='        if differences:\n            reasons.append',
        replace='        if differences and not run.get("answer"):\n            reasons.append'),
    'crashed_runs_count_as_successes': Mistake(
        cell='agent-eval-code', part='agent-eval', feedback="expected a reason starting with 'error'",
        find='    if run.get("error"):\n        reasons.append(f"error: {run[\'error\']}")\n    else:\n',
        replace='    if True:\n'),
}
