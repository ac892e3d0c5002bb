"""The structured-output exercise's common mistakes: see ``tests/exercises/mistakes/__init__.py``."""

from tests.exercises.mistakes import Mistake

MISTAKES = {
    'additional_properties_left_open': Mistake(
        cell='so-schema-code', part='so-schema', feedback='does not set additionalProperties: false',
        find='        result["additionalProperties"] = False\n',
        replace=''),
    'optional_dropped_from_required': Mistake(
        cell='so-schema-code', part='so-schema', feedback='strict mode wants every property required',
        find='result["required"] = list(properties)',
        replace='result["required"] = [name for name in properties if name in required]'),
    'optional_not_nullable': Mistake(
        cell='so-schema-code', part='so-schema', feedback='an optional field must be nullable',
        find='if name not in required and not accepts_null(sub):',
        replace='if name not in required and not accepts_null(sub) and False:'),
    'unsupported_keywords_kept': Mistake(
        cell='so-schema-code', part='so-schema', feedback='a keyword strict mode refuses',
        find='        if key in UNSUPPORTED:\n            continue\n',
        replace=''),
    'enum_out_of_range_accepted': Mistake(
        cell='so-model-code', part='so-schema', feedback="'party_size' in mentioned (not a Slot)",
        find='mentioned: list[Slot]',
        replace='mentioned: list[str]'),
    'ignores_refusals': Mistake(
        cell='so-call-code', part='so-call', feedback='it ignores refusals',
        find='    if choice.message.refusal:\n        raise Refused(choice.message.refusal)\n',
        replace=''),
    'truncated_reply_treated_as_complete': Mistake(
        cell='so-call-code', part='so-call', feedback='it treats a truncated reply as complete',
        find='    if choice.finish_reason == "length":\n        raise Truncated("the reply stopped at the token limit, so its JSON is incomplete")\n',
        replace=''),
    'fence_regex_eats_json': Mistake(
        cell='so-lenient-code', part='so-lenient', feedback='A regex that strips fences or cuts at a',
        find='    text = text.strip()\n    try:',
        replace='    text = re.sub(r"```(?:json)?", "", text).strip()\n    try:'),
    'evaluates_python_syntax': Mistake(
        cell='so-lenient-code', part='so-lenient', feedback='Python syntax is not JSON',
        find='    raise InvalidReply(f"the reply holds no JSON object',
        replace='    import ast\n    try:\n        value = ast.literal_eval(text)\n    except (ValueError, SyntaxError):\n        value = None\n    if isinstance(value, dict):\n        return value\n    raise InvalidReply(f"the reply holds no JSON object'),
    'lenient_parsing_drops_unknown_fields': Mistake(
        cell='so-lenient-code', part='so-lenient', feedback='not fill in, drop or fix fields the schema forbids',
        find='    return Booking.model_validate(extract_json(text))',
        replace='    return Booking.model_validate({k: v for k, v in extract_json(text).items() if k in Booking.model_fields})'),
    'no_retry_on_invalid_json': Mistake(
        cell='so-repair-code', part='so-repair', feedback='it did not repair it',
        find='except (InvalidReply, ValidationError, Truncated) as error:',
        replace='except (ValidationError, Truncated) as error:'),
    'error_not_sent_back': Mistake(
        cell='so-repair-code', part='so-repair', feedback='without sending the reply and the error back',
        find='            messages = [*messages, {"role": "assistant", "content": reply},\n                        {"role": "user", "content": REPAIR_PROMPT.format(error=error)}]\n',
        replace=''),
    'vague_repair_message': Mistake(
        cell='so-repair-code', part='so-repair', feedback='does not send the validation error back',
        find='REPAIR_PROMPT.format(error=error)',
        replace='"That reply was not valid. Please try again."'),
    'retries_forever': Mistake(
        cell='so-repair-code', part='so-repair', feedback='it retried beyond its limit',
        find='    for attempt in range(1, max_attempts + 1):\n',
        replace='    attempt = 0\n    while True:\n        attempt += 1\n'),
    'keeps_only_the_last_error': Mistake(
        cell='so-repair-code', part='so-repair', feedback='not only the last',
        find='    raise ExtractionFailed(errors)',
        replace='    raise ExtractionFailed(errors[-1:])'),
    'catches_every_exception': Mistake(
        cell='so-repair-code', part='so-repair', feedback='a refusal does not change by asking again',
        find='except (InvalidReply, ValidationError, Truncated) as error:',
        replace='except Exception as error:'),
    'twelve_o_clock_off_by_twelve': Mistake(
        cell='so-normalise-code', part='so-normalise', feedback='normalise_time(',
        find='hour = hour % 12 + (12 if half == "p" else 0)',
        replace='hour = hour + (12 if half == "p" else 0)'),
    'date_without_year_in_the_past': Mistake(
        cell='so-normalise-code', part='so-normalise', feedback='normalise_date(',
        find='    if not match["year"] and found < reference:\n        found = found.replace(year=found.year + 1)\n',
        replace=''),
    'exact_match_on_unnormalised_values': Mistake(
        cell='so-eval-code', part='so-eval', feedback='it compares unnormalised values',
        find='all(found[field] == truth[field] for field in FIELDS)',
        replace='all(guess[field] == truth[field] for field in FIELDS)'),
    'precision_divides_by_the_gold_count': Mistake(
        cell='so-eval-code', part='so-eval', feedback='it divides by all gold values, not by the predicted ones',
        find='precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)',
        replace='precision, recall = ratio(tp, tp + fn), ratio(tp, tp + fn)'),
    'repair_rate_counts_every_item': Mistake(
        cell='so-eval-code', part='so-eval', feedback='it counts every item that made at least one call',
        find='sum(1 for used in attempts if used > 1)',
        replace='sum(1 for used in attempts if used >= 1)'),
    'repair_calls_without_temperature_zero': Mistake(
        cell='so-repair-code', part='so-repair', feedback='send temperature=0 on every call',
        find='response = client.chat.completions.create(model=model, messages=messages,\n'
             '                                                  response_format=response_format, temperature=0)',
        replace='response = client.chat.completions.create(model=model, messages=messages,\n'
                '                                                  response_format=response_format)'),
    'vague_relative_day_crashes': Mistake(
        cell='so-normalise-code', part='so-normalise', feedback='is not a number: text you do not recognise',
        find='if match and count(match.group(1) or match.group(2)) is not None:',
        replace='if match:'),
    'weekday_removed_anywhere': Mistake(
        cell='so-normalise-code', part='so-normalise', feedback='Only a leading weekday is ignored',
        find='text = re.sub("^" + WEEKDAY, "", text)',
        replace='text = re.sub(WEEKDAY, "", text)'),
    'zero_hour_with_am_pm': Mistake(
        cell='so-normalise-code', part='so-normalise', feedback='the hours run from 1 to 12',
        find='if not 1 <= hour <= 12:',
        replace='if hour > 12:'),
}
