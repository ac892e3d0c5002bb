"""Checks for pillar 1, API hygiene (``solutions/01_api_hygiene.ipynb``).

Verdicts come from the stub's request log wherever possible (how many requests arrived,
their statuses, timeouts and overlap), and waits from the virtual clock (``nb.last.sleeps``),
so a backoff of minutes is checked in milliseconds. Every input is drawn from ``rng``, so
an answer hard-coded for one run fails the next.

PYTEST_DONT_REWRITE: feedback is the assert message as written, under pytest too.
"""

from __future__ import annotations

import json
import math
import random
import string
import time
from typing import Any

from grader.checks import LearnerRaised, fail, make, part, unanswered
from grader.engine.remote import LearnerObject
from grader.stub.wire import StubRequest

MODEL = "gpt-4o-mini"
ALNUM = string.ascii_letters + string.digits
CHAT_PATH = "/v1/chat/completions"


# -- helpers ---------------------------------------------------------------------------------

def _chat_requests(stub: Any) -> list:
    return [r for r in stub.requests if r.path == CHAT_PATH]


def _statuses(stub: Any) -> list:
    return [r.status for r in _chat_requests(stub)]



def _token(rng: random.Random, n: int = 10) -> str:
    return "".join(rng.choice(ALNUM) for _ in range(n))


def _fake_key(rng: random.Random) -> str:
    return "sk-proj-" + _token(rng, 32)


def _leaks(text: str, secret: str, window: int = 8) -> bool:
    """True if any *window* consecutive characters of the secret part of a key appear in *text*."""
    body = secret.split("-")[-1] if "-" in secret else secret
    return any(body[i:i + window] in text for i in range(max(len(body) - window + 1, 1)))


def _question(rng: random.Random) -> str:
    return f"Ticket {rng.randrange(10**6)}: what is the code word {_token(rng, 6)}?"


def _messages(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def _chat_call(rng: random.Random, **client: Any) -> Any:
    """A zero-argument callable making one chat completion, with the SDK's retries off."""
    request = {"model": MODEL, "messages": _messages(_question(rng)), "max_tokens": 20}
    return make("chat_call", request=request, client={"max_retries": 0, **client})


def _replayed_usage(stub: Any, body: dict, fault: str | None = None) -> tuple[int, int]:
    """The usage the stub gives *body* (it is deterministic), asked of its core directly.

    Call only after reading the request log: the replay is logged too.
    """
    if fault:
        stub.queue_fault(fault)
    request = StubRequest.build("POST", CHAT_PATH, {"authorization": f"Bearer {stub.api_key}"},
                                json.dumps(body).encode())
    usage = json.loads(stub.handle(request).body)["usage"]
    return usage["prompt_tokens"], usage["completion_tokens"]



def _number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


# -- part 1: a client from configuration -----------------------------------------------------

@part("api-client", hint="Read the three variables from `env` (or os.environ), strip them, and use "
      "DEFAULT_MODEL/None when they are unset or empty; give the key to Settings and nothing else.")
def test_settings_come_from_the_environment(nb, rng, quick):
    for round_ in range(2 if quick else 4):
        key = _fake_key(rng)
        url = f"https://llm-{rng.randrange(10**6)}.example.com/v1"
        model = rng.choice(["gpt-4o", "gpt-4.1-mini", f"ft:gpt-4o-mini:acme:{_token(rng, 6)}"])
        pad = (lambda value: f" {value}\n") if round_ == 0 else str  # a value pasted with a newline
        env = {"OPENAI_API_KEY": pad(key), "OPENAI_BASE_URL": pad(url), "OPENAI_MODEL": pad(model),
               "HOME": "/home/learner"}
        settings = nb.load_settings(env)
        assert isinstance(settings, LearnerObject), f"load_settings returned {settings!r}, not a Settings."
        assert not _leaks(nb.last.output, key), "load_settings printed (part of) the API key."
        got = (settings.api_key, settings.base_url, settings.model)
        assert got == (key, url, model), (
            f"load_settings({env}) gave api_key/base_url/model {got}, expected {(key, url, model)}"
            + (": strip the whitespace around each value." if round_ == 0 and any(
                value == pad(wanted) for value, wanted in zip(got, (key, url, model), strict=True)) else "."))
        timeout = settings.timeout
        assert _number(timeout) and 0 < timeout <= 60, (
            f"Settings.timeout is {timeout!r}; use a timeout of a few seconds to a minute.")
    key = _fake_key(rng)
    settings = nb.load_settings({"OPENAI_API_KEY": key, "OPENAI_BASE_URL": "", "HOME": "/home/learner"})
    got = (settings.base_url, settings.model)
    assert got == (None, "gpt-4o-mini"), (
        f"With only OPENAI_API_KEY set (OPENAI_BASE_URL empty), base_url/model are {got}; expected "
        "None and DEFAULT_MODEL.")


@part("api-client", hint="Write Settings.__repr__ yourself: every field, but api_key='[redacted]'.")
def test_repr_hides_the_key(nb, rng):
    key = _fake_key(rng)
    settings = nb.load_settings({"OPENAI_API_KEY": key, "OPENAI_MODEL": "gpt-4o"})
    shown = settings.repr_text
    assert not _leaks(shown, key), (
        f"repr(settings) shows the API key: {shown!r}. Settings get printed and logged, so the key leaks "
        "with them.")
    assert "gpt-4o" in shown, f"repr(settings) is {shown!r}; it should still show the other fields."


@part("api-client", hint="Raise ConfigError('OPENAI_API_KEY is not set ...') when the key is missing or "
      "blank (after .strip()), without including any value from the environment.")
def test_missing_key_is_a_clear_error(nb, rng):
    secret = _fake_key(rng)
    cases = [
        ("missing", {"OPENAI_BASE_URL": "https://api.example.com/v1", "OPENAI_ADMIN_KEY": secret}),
        ("empty", {"OPENAI_API_KEY": "", "OPENAI_ADMIN_KEY": secret}),
        ("blank", {"OPENAI_API_KEY": rng.choice(["   ", "\n", " \t\n"]), "OPENAI_ADMIN_KEY": secret}),
    ]
    for label, env in cases:
        try:
            got = nb.load_settings(env)
        except LearnerRaised as error:
            unanswered(error)
            assert error.is_a("ConfigError"), (
                f"With OPENAI_API_KEY {label}, load_settings raised {error.type_name}: {error.message}; raise "
                "ConfigError, whose message says what is wrong and how to fix it.")
            assert "OPENAI_API_KEY" in error.message, (
                f"The error for a {label} key says {error.message!r}; name OPENAI_API_KEY in it.")
            assert not _leaks(error.message + nb.last.output, secret), (
                "The missing-key error (or your output) shows another secret from the environment: never "
                "put environment values in messages.")
        else:
            fail(
                f"load_settings returned {got!r} with OPENAI_API_KEY {label}: a missing key should stop the "
                "program at start-up with a clear error, not as a 401 on the first request.")


@part("api-client", hint="Pass api_key=settings.api_key, base_url=settings.base_url and "
      "timeout=settings.timeout to OpenAI(...).")
def test_client_uses_settings_and_a_timeout(nb, stub, rng):
    client = nb.make_client()
    assert not _leaks(nb.last.output, stub.api_key), "make_client printed (part of) the API key."
    create = client.chat.completions.create
    create(model=MODEL, messages=_messages(_question(rng)), max_tokens=20)
    sent = _chat_requests(stub)
    assert sent, "The client from make_client() did not reach the API."
    assert sent[0].status == 200, f"The request failed with status {sent[0].status}; was the key passed on?"
    # The same stub under another host name than the environment's: the Host header tells which URL was used.
    host = sent[0].headers["host"].replace("127.0.0.1", "localhost")
    for key, status in ((_fake_key(rng), 401), (stub.api_key, 500)):
        stub.reset()
        if status == 500:
            stub.queue_fault("server_error", status=500)
        settings = nb.load_settings({"OPENAI_API_KEY": key, "OPENAI_BASE_URL": f"http://{host}/v1"})
        client = nb.make_client(settings, max_retries=0)
        try:
            client.chat.completions.create(model=MODEL, messages=_messages(_question(rng)), max_tokens=20)
        except LearnerRaised as error:
            unanswered(error)
        sent = _chat_requests(stub)
        assert sent, "make_client(settings)'s client sent nothing."
        assert sent[0].headers.get("host") == host, (
            f"make_client(settings) did not use settings.base_url (http://{host}/v1): its request went to "
            f"{sent[0].headers.get('host')}. Pass base_url=settings.base_url to OpenAI(...).")
        assert len(sent) == 1, (
            f"make_client(settings, max_retries=0)'s client sent {len(sent)} requests for one call that failed "
            "with a 500: pass max_retries on to OpenAI(...), so retries are left to call_with_retry.")
        assert sent[0].status == status, (
            "make_client(settings) did not send settings.api_key (a request with a wrong key in the settings "
            "was accepted): build the client from the settings, not from the environment.")
    _assert_gives_up_after_the_timeout(nb, stub, rng, f"http://{host}/v1")


NETWORK_TIME_SCALE = 1000  # in the timeout check, one real millisecond is a second to the learner's client
HELD_REPLY = 0.1  # real seconds the stub holds the reply: 100 s to the client, far past the timeout set (2-4 s,
# so 2-4 ms of real time) and short of the SDK's default of 600 s, which a client without a timeout waits out


def _assert_gives_up_after_the_timeout(nb: Any, stub: Any, rng: random.Random, base_url: str) -> None:
    """Behaviour, not a header: with settings.timeout of a few seconds, a slow reply must be abandoned."""
    timeout = round(rng.uniform(2.0, 4.0), 1)
    settings = nb.Settings(api_key=stub.api_key, base_url=base_url, model=MODEL, timeout=timeout)
    stub.queue_fault("delay", seconds=HELD_REPLY)
    with nb.network_time_scaled(NETWORK_TIME_SCALE):
        client = nb.make_client(settings, max_retries=0)
        try:
            client.chat.completions.create(model=MODEL, messages=_messages(_question(rng)), max_tokens=20)
        except LearnerRaised as error:
            unanswered(error)
            abandoned = error.is_a("openai.APITimeoutError")
        else:
            abandoned = False
    assert abandoned, (
        f"With settings.timeout={timeout}, make_client's client waited {HELD_REPLY * NETWORK_TIME_SCALE:g} s for "
        f"a slow answer instead of giving up after {timeout} s (the SDK default is 600 s): pass "
        "timeout=settings.timeout to OpenAI(...), or one hung request blocks a worker for ten minutes.")


# -- part 2: retry with backoff --------------------------------------------------------------

TRANSIENT = [
    ("rate_limit", {}, "a 429 rate limit"),
    ("server_error", {"status": 500}, "a 500 server error"),
    ("server_error", {"status": 502}, "a 502 bad gateway"),
    ("server_error", {"status": 503}, "a 503 overloaded"),
    ("drop_connection", {}, "a dropped connection"),
]


def _retry(nb: Any, call: Any, **kwargs: Any) -> Any:
    return nb.call_with_retry(call, **kwargs)


@part("api-retry", hint="Catch the error, decide with is_retryable, wait, and call again; return the "
      "first successful result.")
def test_retries_transient_errors(nb, stub, rng, quick):
    trials = 2 if quick else 3
    kinds = rng.sample(TRANSIENT, len(TRANSIENT))  # every kind of transient error, in every mode
    for trial in range(trials):
        faults = kinds[trial::trials] or [rng.choice(TRANSIENT)]
        client = {}
        if trial == trials - 1:  # one trial with a read timeout: on the learner's clock, not waited out
            faults.insert(rng.randrange(len(faults) + 1), ("timeout", {}, "a timeout"))
            client = {"timeout": 10.0}
        stub.reset()
        for kind, params, _ in faults:
            stub.queue_fault(kind, **params)
        described = ", then ".join(label for _, _, label in faults)
        try:
            result = _retry(nb, _chat_call(rng, **client), max_attempts=len(faults) + 2, base_delay=0.05,
                            max_delay=1.0, deadline=120.0)
        except LearnerRaised as error:
            unanswered(error)
            fail(
                f"After {described}, call_with_retry raised {error.type_name} ({len(_chat_requests(stub))} "
                f"request(s) made): these errors are transient and worth retrying. {error.message[:200]}")
        statuses = _statuses(stub)
        assert len(statuses) == len(faults) + 1 and statuses[-1] == 200, (
            f"After {described}, expected {len(faults)} retries and then success; the API saw statuses "
            f"{statuses} (None = dropped connection or timeout).")
        assert isinstance(result, LearnerObject) and "ChatCompletion" in result.type_name, (
            f"call_with_retry returned {result!r}; return what call() returned.")


CLIENT_ERRORS = [
    ("400", "BadRequestError", "a 400 response (a temperature above 2)",
     "4xx errors other than 429 are not worth retrying: the same request fails the same way every time"),
    ("401", "AuthenticationError", "a 401 response (a wrong API key)",
     "4xx errors other than 429 are not worth retrying: the same request fails the same way every time"),
    ("404", "NotFoundError", "a 404 response (a model that does not exist)",
     "4xx errors other than 429 are not worth retrying: the same request fails the same way every time"),
    ("quota", "RateLimitError", "a 429 insufficient_quota response (the account is out of credit)",
     "An insufficient_quota 429 (error.code == 'insufficient_quota') does not go away by waiting: the "
     "account needs credit"),
    ("bug", "TypeError", "a TypeError from the call itself (a request without messages, a bug in the caller)",
     "Errors that are not API errors are bugs: retrying them only hides them"),
]


@part("api-retry", weight=1.5, hint="Retry only 429 (not insufficient_quota), 5xx, APITimeoutError and "
      "APIConnectionError; `raise` anything else at once, unchanged.")
def test_does_not_retry_client_errors(nb, stub, rng):
    for case, error_type, described, why in rng.sample(CLIENT_ERRORS, len(CLIENT_ERRORS)):
        stub.reset()
        request = {"model": MODEL, "messages": _messages(_question(rng)), "max_tokens": 20}
        client = {"max_retries": 0}
        if case == "400":
            request["temperature"] = round(rng.uniform(2.5, 5.0), 2)
        elif case == "401":
            client["api_key"] = _fake_key(rng)
        elif case == "404":
            request["model"] = f"gpt-9-{_token(rng, 6).lower()}"
        elif case == "bug":
            del request["messages"]  # the SDK raises TypeError before sending anything
        else:
            stub.queue_fault("rate_limit", 10, code="insufficient_quota")
        raised = got = None
        try:
            got = nb.call_with_retry(make("chat_call", request=request, client=client), max_attempts=4,
                                     base_delay=0.1, max_delay=1.0, deadline=60.0)
        except LearnerRaised as error:
            unanswered(error)
            raised = error
        sent, once = len(_chat_requests(stub)), int(case != "bug")  # a bug raises before sending anything
        retried = sent > once or (case == "bug" and bool(nb.last.sleeps or (raised and raised.is_a("RetryError"))))
        assert not retried, (f"call_with_retry retried {described}"
                             + (f": the API saw {sent} identical requests" if case != "bug" else "") + f". {why}.")
        assert raised is not None, f"call_with_retry returned {got!r} after {described}; it should raise the error."
        assert raised.is_a(error_type), (
            f"After {described}, call_with_retry raised {raised.type_name} instead of the {error_type} "
            "itself: raise errors that are not worth retrying unchanged, so callers can handle them.")
        assert sum(nb.last.sleeps) == 0, (
            f"call_with_retry slept {sum(nb.last.sleeps):.2f} s before giving up on {described}, "
            "which will not go away by waiting.")


def _sleeps_after_failures(nb: Any, stub: Any, rng: random.Random, failures: int, **kwargs: Any) -> list[float]:
    stub.reset()
    stub.queue_fault("server_error", failures, status=rng.choice([500, 502, 503]))
    try:
        _retry(nb, _chat_call(rng), max_attempts=failures + 2, deadline=10_000.0, **kwargs)
    except LearnerRaised as error:
        unanswered(error)
        fail(f"call_with_retry raised {error.type_name} after {failures} server errors with "
                       f"max_attempts={failures + 2}; it should have retried them.")
    return list(nb.last.sleeps)


@part("api-retry", weight=2, hint="Before retry n wait random.uniform(0, min(max_delay, base_delay * "
      "2 ** (n - 1))): exponential, capped, and random so that clients failing together spread out.")
def test_backoff_is_exponential_with_jitter_and_a_cap(nb, stub, rng):
    # Two capped runs (cap = 8 x base) and two long uncapped ones: with 30 waits each drawn below its
    # bound, a backoff that grows one step early or twice as fast exceeds a bound with certainty (1 - 2**-30).
    later_max, runs, uncapped = 0.0, [], []
    for failures, cap_steps in ((7, 3), (7, 3), (12, 14), (12, 14)):
        base = round(rng.uniform(0.2, 1.0), 3)
        cap = round(base * 2 ** cap_steps, 3)
        sleeps = _sleeps_after_failures(nb, stub, rng, failures, base_delay=base, max_delay=cap)
        assert len(sleeps) == failures, (
            f"call_with_retry slept {len(sleeps)} times for {failures} retries; wait once before each retry.")
        assert len(set(sleeps)) > 1, (
            f"call_with_retry slept the same time before every retry ({sleeps[0]:.3f} s): a fixed wait "
            "hammers an overloaded server at a steady rate; double the (maximum) wait after each failure.")
        assert max(sleeps) <= cap + 1e-9, (
            f"With max_delay={cap}, call_with_retry waited {max(sleeps):.3f} s: cap the backoff, or a long "
            "outage makes waits of hours.")
        for retry, slept in enumerate(sleeps, start=1):
            _assert_within_backoff(retry, slept, base, cap)
        later_max = max(later_max, *(s / base for s in sleeps[2:]))
        if cap_steps == 14:
            uncapped.append([slept / (base * 2 ** (retry - 1)) for retry, slept in enumerate(sleeps, start=1)])
        runs.append([round(s / base, 9) for s in sleeps])
    assert later_max >= 2, (
        "call_with_retry's waits do not grow: after 7 failures every wait was under 2 x base_delay. "
        "Use exponential backoff: the maximum wait doubles after each failure.")
    assert runs[0] != runs[1], (
        f"call_with_retry waited exactly the same multiples of base_delay in two runs ({runs[0]}): without "
        "jitter, every client that failed together retries together (a thundering herd).")
    assert max(max(run) for run in uncapped) > 0.5, (  # 24 uniform draws all in the lower half: 1 in 16 million
        "Before each of 24 retries call_with_retry waited less than half of base_delay * 2 ** (n - 1): its "
        "backoff starts too low or grows too slowly. Draw from the whole range, 0 to that bound.")
    assert max(max(run[8:]) for run in uncapped) > 0.1, (  # 8 draws all under a tenth: 1 in 100 million
        "Before retries 9 to 12 call_with_retry waited less than a tenth of base_delay * 2 ** (n - 1) every "
        "time: its backoff grows too slowly. The maximum wait doubles after each failure.")


def _assert_within_backoff(retry: int, slept: float, base: float, cap: float) -> None:
    bound = min(cap, base * 2 ** (retry - 1))
    if slept <= bound * (1 + 1e-9):
        return
    told = (f"With base_delay={base}, call_with_retry waited {slept:.3f} s before retry {retry}, more than "
            f"min(max_delay, base_delay * 2 ** ({retry} - 1)) = {bound:.3f} s")
    if slept <= min(cap, 2 * bound) * (1 + 1e-9):
        fail(f"{told}: its backoff grows one step too early (2 ** n instead of 2 ** (n - 1)). The first "
              "retry waits up to base_delay, the second up to 2 x base_delay, then 4 x, ...")
    fail(f"{told}: its backoff starts too high or grows faster than doubling. The first retry waits up to "
          "base_delay, and the maximum wait doubles after each failure.")


RETRY_AFTER_BASE, RETRY_AFTER_CAP = 0.2, 1.0  # base_delay and max_delay of the retry-after runs


def _retry_after_case(rng: random.Random, kind: str) -> tuple[dict, str, float]:
    """(fault parameters, the header as sent, the seconds it asks for) for one retry-after case."""
    if kind == "retry-after":
        value = rng.randint(2, 9)
        return {"retry_after": value}, f"retry-after: {value}", float(value)
    if kind == "retry-after-ms":
        value = rng.randrange(1200, 6000, 10)
        return {"retry_after_ms": value}, f"retry-after-ms: {value}", value / 1000
    if kind == "zero":
        return {"retry_after": 0}, "retry-after: 0", 0.0
    if kind == "unreadable ms":  # fall back to the other header
        value = rng.randint(2, 9)
        header = f"retry-after-ms: soon` and `retry-after: {value}"
        return {"retry_after_ms": "soon", "retry_after": value}, header, float(value)
    return {"retry_after": kind}, f"retry-after: {kind}", None  # not a number of seconds >= 0: back off


RETRY_AFTER_KINDS = ("retry-after", "retry-after-ms", "zero", "unreadable ms", "-1", "inf")


def _retry_after_mistake(header: str, seconds: float | None, waited: float) -> str | None:
    """What call_with_retry did wrong with *header*, named, or None if it waited as asked
    (*seconds*, or for None a backoff of at most base_delay)."""
    name, value = header.split("` and `")[-1].split(": ")
    told = f"After a 429 with `{header}`, call_with_retry waited {waited:.3f} s"
    if seconds is None:
        return None if waited <= RETRY_AFTER_CAP + 1e-6 else (  # any backoff up to max_delay
            f"{told}: a header that is not a number of seconds >= 0 must be ignored (back off as usual).")
    if header.startswith("retry-after-ms: soon") and waited < RETRY_AFTER_CAP:
        return (f"{told} (a backoff): when `retry-after-ms` is not a number, use `retry-after` "
                f"({seconds:g} s).")
    if seconds == 0:
        return None if waited <= 1e-6 else (
            f"{told}: it treated `retry-after: 0` as no header and backed off. 0 means the server takes the "
            "request again now: retry at once.")
    if seconds - 1e-6 <= waited <= seconds + 1.0 + 1e-6:
        return None
    if name == "retry-after-ms" and math.isclose(waited, float(value), rel_tol=1e-6):
        return f"{told}: it read `retry-after-ms` as seconds. It is in milliseconds: wait {seconds:g} s."
    if name == "retry-after" and math.isclose(waited, float(value) / 1000, rel_tol=1e-6):
        return f"{told}: it read `retry-after` as milliseconds. It is in seconds: wait {seconds:g} s."
    if math.isclose(waited, RETRY_AFTER_CAP, rel_tol=1e-6):
        return (f"{told}, max_delay: it capped the server's `{name}` at max_delay. The server asked for "
                f"{seconds:g} s; wait that long even when it is more than max_delay, or earn another 429.")
    if waited < RETRY_AFTER_CAP:
        return (f"{told} (a backoff): it ignored the `{name}` header. The server asked for {seconds:g} s; "
                "coming back earlier earns another 429.")
    if waited < seconds:
        return f"{told}; the server's `{name}` asked for {seconds:g} s: wait that long."
    return f"{told}; the server's `{name}` asked for {seconds:g} s, which was enough."


@part("api-retry", hint="Read error.response.headers: 'retry-after-ms' (milliseconds) first, then "
      "'retry-after' (seconds), and wait that long even if it is more than max_delay (0: retry at once).")
def test_honours_retry_after(nb, stub, rng):
    mistakes = []
    for kind in RETRY_AFTER_KINDS:
        stub.reset()
        params, header, seconds = _retry_after_case(rng, kind)
        stub.queue_fault("rate_limit", **params)
        try:
            _retry(nb, _chat_call(rng), max_attempts=3, base_delay=RETRY_AFTER_BASE, max_delay=RETRY_AFTER_CAP,
                   deadline=100_000.0)  # far: a wait in the wrong unit is taken, so it can be named
        except LearnerRaised as error:
            unanswered(error)
            wanted = "back off as usual (the header is not a number of seconds >= 0)" if seconds is None else \
                f"wait {seconds:g} s"
            fail(f"After one 429 with `{header}`, call_with_retry raised {error.type_name} "
                  f"({error.message[:120]}); it should {wanted} and retry.")
        assert len(_chat_requests(stub)) == 2, f"After one 429 with `{header}`, expected exactly one retry."
        mistake = _retry_after_mistake(header, seconds, sum(nb.last.sleeps))
        if mistake:
            mistakes.append(mistake)
    assert not mistakes, " ".join(mistakes)


@part("api-retry", hint="Count attempts; after max_attempts raise RetryError(attempts, error) from error.")
def test_gives_up_after_max_attempts(nb, stub, rng):
    attempts = rng.randint(2, 5)
    stub.queue_fault("server_error", attempts - 1, status=rng.choice([500, 503]))
    stub.queue_fault("rate_limit", 40)
    try:
        got = _retry(nb, _chat_call(rng), max_attempts=attempts, base_delay=0.01, max_delay=0.05,
                     deadline=100_000.0)
    except LearnerRaised as error:
        unanswered(error)
        got = None
        raised = error
    else:
        raised = None
    sent = len(_chat_requests(stub))
    assert sent <= attempts, (
        f"With max_attempts={attempts} and an API that keeps failing, call_with_retry made {sent} requests: "
        "it retried beyond its limit" + (" (forever, until the API recovered)." if sent > 40 else "."))
    assert sent == attempts, f"With max_attempts={attempts}, call_with_retry gave up after {sent} request(s)."
    assert raised is not None, (
        f"call_with_retry returned {got!r} after all {attempts} attempts failed: it swallowed the error. "
        "The caller must learn that the call failed; raise RetryError.")
    assert raised.is_a("RetryError"), (
        f"On giving up, call_with_retry raised {raised.type_name}; raise RetryError(attempts, last_error) "
        "from last_error, so the caller learns how often it was tried.")
    assert str(attempts) in raised.message and "RateLimitError" in raised.message, (
        f"The RetryError says {raised.message!r}; it should give the {attempts} attempts and the last error "
        "(a RateLimitError).")


@part("api-retry", hint="Compute give_up_at = time.monotonic() + deadline at the start; before each "
      "sleep, give up if time.monotonic() + wait > give_up_at.")
def test_stops_at_the_deadline(nb, stub, rng):
    for story in rng.sample(["retry-after", "503"], 2):
        stub.reset()
        if story == "retry-after":
            wait = rng.randint(2, 5)
            deadline = wait * rng.randint(2, 4) + wait / 2
            stub.queue_fault("rate_limit", 60, retry_after=wait)
            story = f"429s asking for retry-after: {wait}"
            kwargs = {"base_delay": 0.01, "max_delay": 0.05}
        else:
            deadline = round(rng.uniform(8, 15), 2)
            stub.queue_fault("server_error", 60, status=503)
            story = "503s"
            kwargs = {"base_delay": 1.0, "max_delay": 4.0}
        try:
            got = _retry(nb, _chat_call(rng), max_attempts=50, deadline=deadline, **kwargs)
        except LearnerRaised as error:
            unanswered(error)
            got = raised = error
        else:
            raised = None
        slept = sum(nb.last.sleeps)
        assert slept <= deadline + 1e-6, (
            f"With deadline={deadline} s and an API answering only {story}, call_with_retry slept {slept:.1f} s "
            "in all: it ignored the deadline. Give up before a wait that would end after it.")
        assert raised is not None, (
            f"call_with_retry returned {got!r} when the deadline ran out: it swallowed the error; raise RetryError.")


# -- part 3: token and cost accounting -------------------------------------------------------

def _price_table(rng: random.Random, models: list[str]) -> dict:
    table = {}
    for model in models:
        input_price = round(rng.uniform(0.1, 5.0), 3)
        table[model] = {"input": input_price, "cached_input": round(input_price * rng.choice([0.1, 0.25, 0.5]), 4),
                        "output": round(rng.uniform(0.4, 20.0), 3)}
    return table


def _cost(price: dict, prompt: int, completion: int, cached: int = 0) -> float:
    return ((prompt - cached) * price["input"] + cached * price["cached_input"]
            + completion * price["output"]) / 1_000_000


USAGE_SHAPES = ("cached half", "no details", "details None")  # the first calls, in every mode


def _usage(rng: random.Random, shape: str | None = None) -> tuple[dict, tuple[int, int, int]]:
    prompt, completion = rng.randint(10, 6000), rng.randint(1, 2000)
    cached = rng.choice([0, rng.randrange(0, prompt + 1, 128) if prompt >= 128 else 0, prompt // 2])
    if shape is not None:
        cached = prompt // 2 if shape == "cached half" else 0
    usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                             "total_tokens": prompt + completion}
    if cached or (shape is None and rng.random() < 0.5):
        usage["prompt_tokens_details"] = {"cached_tokens": cached, "audio_tokens": 0}
    elif shape == "details None" or (shape is None and rng.random() < 0.5):
        usage["prompt_tokens_details"] = None
    return usage, (prompt, completion, cached)


@part("api-cost", weight=1.5, hint="Cost = ((prompt - cached) * input + cached * cached_input + "
      "completion * output) / 1_000_000; prompt_tokens already includes the cached ones.")
def test_ledger_prices_usage(nb, rng, quick):
    models = [f"model-{_token(rng, 5).lower()}" for _ in range(3)]
    prices = _price_table(rng, models)
    ledger = nb.CostLedger(prices)
    totals = [0, 0, 0]
    expected_total = 0.0
    for call in range(4 if quick else 10):
        model = rng.choice(models)
        usage, (prompt, completion, cached) = _usage(rng, USAGE_SHAPES[call] if call < len(USAGE_SHAPES) else None)
        got = ledger.record(usage, model)
        price = prices[model]
        expected = _cost(price, prompt, completion, cached)
        if not (_number(got) and math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-15)):
            mistakes = {
                "charged cached tokens at the full input price":
                    (prompt * price["input"] + completion * price["output"]) / 1e6,
                "counted cached tokens twice (prompt_tokens already includes them)":
                    (prompt * price["input"] + cached * price["cached_input"] + completion * price["output"]) / 1e6,
                "priced per thousand tokens instead of per million": expected * 1000,
            }
            named = [name for name, value in mistakes.items()
                     if _number(got) and cached and math.isclose(got, value, rel_tol=1e-9)]
            fail(
                f"record({usage}, {model!r}) returned {got!r}; with prices {price} it costs {expected!r}"
                + (f": it {named[0]}." if named else "."))
        totals = [totals[0] + prompt, totals[1] + completion, totals[2] + cached]
        expected_total += expected
    got_totals = [ledger.prompt_tokens, ledger.completion_tokens, ledger.cached_tokens]
    assert got_totals == totals, (
        f"After the calls, the ledger holds prompt/completion/cached tokens {got_totals}, expected {totals}.")
    total = ledger.total_cost
    assert _number(total) and math.isclose(total, expected_total, rel_tol=1e-9), (
        f"ledger.total_cost is {total!r}, expected {expected_total!r}.")


@part("api-cost", hint="In complete(), ledger.record(response.usage, model) right after the call, before "
      "looking at finish_reason.")
def test_complete_records_every_billed_response(nb, stub, rng):
    prices = {MODEL: _price_table(rng, [MODEL])[MODEL]}
    ledger = nb.CostLedger(prices)
    client = make("openai_client", max_retries=0, timeout=5)
    answer = f"The code word is {_token(rng)}."
    question = _question(rng)
    stub.add_rule({"when": {"user_contains": question}, "reply": {"content": answer + " " + "More. " * 20}})
    got = nb.complete(client, ledger, model=MODEL, messages=_messages(question), max_tokens=200)
    assert isinstance(got, str) and got.startswith(answer), f"complete() returned {got!r}, not the answer."
    stub.queue_fault("truncate")
    try:
        got = nb.complete(client, ledger, model=MODEL, messages=_messages(question), max_tokens=200)
    except LearnerRaised as error:
        unanswered(error)
        truncated_error = error
    else:
        truncated_error = None
    bodies = [r.body for r in _chat_requests(stub)]
    assert len(bodies) == 2, f"Two calls to complete() made {len(bodies)} API requests."
    first, second = _replayed_usage(stub, bodies[0]), _replayed_usage(stub, bodies[1], fault="truncate")
    expected = [first[0] + second[0], first[1] + second[1]]
    recorded = [ledger.prompt_tokens, ledger.completion_tokens]
    assert recorded == expected, (
        f"After one full answer and one cut off at max_tokens, the ledger holds prompt/completion tokens "
        f"{recorded}; the API billed {expected}." + (
            " It counted tokens only on success: the cut-off answer was billed too, so record the usage "
            "before raising." if recorded == list(first) else ""))
    calls = ledger.calls
    assert calls == 2, f"ledger.calls is {calls!r} after two billed responses."
    assert truncated_error is not None, (
        f"complete() returned {got!r} for an answer cut off at max_tokens (finish_reason 'length'); raise "
        "IncompleteAnswer instead of passing on half an answer.")
    assert truncated_error.is_a("IncompleteAnswer"), (
        f"For a cut-off answer complete() raised {truncated_error.type_name}; raise IncompleteAnswer.")


@part("api-cost", weight=1.5, hint="In check_budget: if total_cost + estimate(model, messages, max_tokens) "
      "> budget, raise BudgetExceeded; call it in complete() before the API call.")
def test_budget_guard_refuses_before_the_call(nb, stub, rng):
    price = _price_table(rng, [MODEL])[MODEL]
    prices = {MODEL: price}
    client = make("openai_client", max_retries=0, timeout=5)
    messages = _messages(_question(rng))
    output_cost = price["output"] / 1_000_000
    budget = round(output_cost * 1000 * rng.uniform(1.5, 3.0), 9)
    ledger = nb.CostLedger(prices, budget)
    try:
        nb.complete(client, ledger, model=MODEL, messages=messages, max_tokens=50)
    except LearnerRaised as error:
        unanswered(error)
        fail(f"complete() with max_tokens=50 and a budget of ${budget:.6f} (room for 1000 output "
                       f"tokens) raised {error.type_name}: {error.message[:150]}; it fits the budget.")
    sent = _chat_requests(stub)
    assert len(sent) == 1, f"complete() made {len(sent)} requests for one call."
    assert sent[0].body.get("max_tokens") == 50, (
        f"complete(..., max_tokens=50) sent max_tokens={sent[0].body.get('max_tokens')!r}: pass it on to the API, or "
        "the answer's length (and its cost) has no limit and the budget estimate means nothing.")
    prompt_tokens, _ = _replayed_usage(stub, sent[0].body)
    max_tokens = rng.randint(3500, 6000)
    estimate = ledger.estimate(MODEL, messages, max_tokens)
    bound = _cost(price, prompt_tokens, max_tokens)
    assert _number(estimate) and estimate >= bound * (1 - 1e-9), (
        f"estimate() says a call with max_tokens={max_tokens} costs at most {estimate!r}, but its prompt plus a "
        f"full-length answer cost {bound!r}: the estimate must be an upper bound (count max_tokens as output).")
    parts = [{"type": "text", "text": _question(rng) + " " + _token(rng, 40)} for _ in range(3)]
    listed = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": parts}]
    body = {"model": MODEL, "messages": listed, "max_tokens": max_tokens}
    estimate = ledger.estimate(MODEL, listed, max_tokens)
    bound = _cost(price, _replayed_usage(stub, body)[0], max_tokens)
    assert _number(estimate) and estimate >= bound * (1 - 1e-9), (
        f"estimate() of a message whose content is a list of three text parts is {estimate!r}, below what the "
        f"API bills, {bound!r}: count the characters of each part's text.")
    stub.reset()
    try:
        nb.complete(client, ledger, model=MODEL, messages=messages, max_tokens=max_tokens)
    except LearnerRaised as error:
        unanswered(error)
        refused = error
    else:
        refused = None
    sent = _chat_requests(stub)
    assert not sent, (
        f"A call with max_tokens={max_tokens} (up to ${max_tokens * output_cost:.6f}) against a budget of "
        f"${budget:.6f} reached the API" + (
            " and was refused only afterwards: check the budget before the call, once it is sent the money "
            "is spent." if refused is not None else ": estimate the cost with max_tokens and refuse before calling."))
    assert refused is not None and refused.is_a("BudgetExceeded"), (
        f"Over budget, complete() should raise BudgetExceeded, not {refused.type_name if refused else 'return'}.")
    spent = nb.CostLedger(prices, budget)
    spent.record({"prompt_tokens": 0, "completion_tokens": round(budget * 0.9 / output_cost)}, MODEL)
    small = round(budget * 0.4 / output_cost)
    try:
        nb.complete(client, spent, model=MODEL, messages=messages, max_tokens=small)
    except LearnerRaised as error:
        unanswered(error)
    assert not _chat_requests(stub), (
        f"With 90% of the ${budget:.6f} budget already spent, a call that may cost 40% of it still reached "
        "the API: the guard must add what is already spent (total_cost) to the estimate.")
    exact = nb.CostLedger(prices, nb.CostLedger(prices).estimate(MODEL, messages, 20))
    try:
        nb.complete(client, exact, model=MODEL, messages=messages, max_tokens=20)
    except LearnerRaised as error:
        unanswered(error)
        assert not error.is_a("BudgetExceeded"), (
            "A call whose estimate is exactly the budget was refused: the budget may be spent in full; refuse "
            "only a call that would exceed it (>, not >=).")


def _content_chars(message: dict) -> int:
    content = message.get("content") or ""
    return len(content) if isinstance(content, str) else sum(len(part.get("text", "")) for part in content)


def _estimate_cases(rng: random.Random) -> list[list[dict]]:
    """Messages to estimate: plain text, an assistant turn without content, a user turn made of a text
    and an image part, and plain text again. Their character counts leave remainders 1, 2, 2 and 0
    modulo 3, so rounding down, a character too many or too few, or a missing text counted as a couple
    of characters each changes the token count of at least one case."""
    system = {"role": "system", "content": f"You are support bot {_token(rng, 4)}."}
    parts = [{"type": "text", "text": _question(rng)}, {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}]
    cases = [[{"role": "user", "content": _question(rng)}],
             [dict(system), {"role": "user", "content": _question(rng)}, {"role": "assistant", "content": None}],
             [dict(system), {"role": "user", "content": parts}],
             [{"role": "user", "content": _question(rng)}]]
    for messages, remainder in zip(cases, (1, 2, 2, 0), strict=True):
        padded = messages[0]  # a string content: the system message or the only user message
        while sum(_content_chars(message) for message in messages) % 3 != remainder:
            padded["content"] += "!"
    return cases


@part("api-cost", hint="Prompt tokens = ceil(characters of the messages' content / 3) + 4 per message + 3; "
      "price them at the input price and max_tokens tokens at the output price.")
def test_estimate_follows_the_recipe(nb, rng):
    price = _price_table(rng, [MODEL])[MODEL]
    ledger = nb.CostLedger({MODEL: price})
    for messages in _estimate_cases(rng):
        max_tokens = rng.randint(1, 500)
        chars = sum(_content_chars(message) for message in messages)
        prompt = math.ceil(chars / 3) + 4 * len(messages) + 3
        expected = _cost(price, prompt, max_tokens)
        got = ledger.estimate(MODEL, messages, max_tokens)
        if _number(got) and math.isclose(got, expected, rel_tol=1e-9):
            continue
        floor = _cost(price, chars // 3 + 4 * len(messages) + 3, max_tokens)
        fail(f"estimate() of {messages} with max_tokens={max_tokens} returned {got!r}; the recipe gives "
              f"{expected!r}: {chars} characters of content -> ceil({chars} / 3) = {math.ceil(chars / 3)} tokens, "
              f"+ 4 x {len(messages)} messages + 3 = {prompt} prompt tokens at the input price, plus {max_tokens} "
              "output tokens" + (": it rounded down; round up (math.ceil)." if _number(got) and
                                 math.isclose(got, floor, rel_tol=1e-9) else "."))


# -- part 4: caching -------------------------------------------------------------------------

def _shuffled(value: Any, rng: random.Random) -> Any:
    """The same value with the keys of every dict (nested ones too) in a new order."""
    if isinstance(value, dict):
        keys = list(value)
        for _ in range(5):
            rng.shuffle(keys)
            if len(keys) < 2 or keys != list(value):
                break
        return {key: _shuffled(value[key], rng) for key in keys}
    if isinstance(value, list):
        return [_shuffled(item, rng) for item in value]
    return value


def _random_request(rng: random.Random) -> dict:
    messages = [{"role": "system", "content": f"You are support bot {_token(rng, 4)}."}]
    for _ in range(rng.randint(0, 1)):
        messages += [{"role": "user", "content": _question(rng)},
                     {"role": "assistant", "content": f"It is {_token(rng, 6)}."}]
    messages.append({"role": "user", "content": _question(rng)})
    return {"model": MODEL, "messages": messages, "temperature": rng.choice([0, 0.2, 0.7]),
            "max_tokens": rng.randint(20, 60), "metadata": {"team": _token(rng, 4), "ticket": str(rng.randrange(999))}}


def _variants(request: dict, rng: random.Random) -> list[tuple[str, dict]]:
    """Requests that differ from *request* in one thing each, with what differs."""
    def changed(**fields: Any) -> dict:
        return {**json.loads(json.dumps(request)), **fields}

    messages = request["messages"]
    history = json.loads(json.dumps(messages))
    history[0]["content"] = f"You are support bot {_token(rng, 5)}."
    return [
        ("the model", changed(model="gpt-4o")),
        ("the temperature", changed(temperature=request["temperature"] + 0.5)),
        ("max_tokens", changed(max_tokens=request["max_tokens"] + 7)),
        ("the system message (same last user message)", changed(messages=history)),
    ]


@part("api-cache", hint="json.dumps(request, sort_keys=True) sorts the keys of nested dicts too; hash "
      "the string with hashlib.sha256.")
def test_request_key_ignores_dict_order(nb, rng, quick):
    for _ in range(3 if quick else 8):
        request = _random_request(rng)
        key, again = nb.request_key(request), nb.request_key(_shuffled(request, rng))
        assert isinstance(key, str), f"request_key returned a {type(key).__name__}; return a str."
        assert key == again, (
            "request_key gave different keys for the same request with its dict keys in another order: the "
            "cache key depends on dict order, so identical requests miss the cache.")
        for what, other in _variants(request, rng):
            assert nb.request_key(other) != key, (
                f"request_key gave the same key to two requests that differ in {what}: they would share "
                "one cached answer.")


@part("api-cache", hint="Look the key up before calling the API; store the response only after the call "
      "succeeded.")
def test_identical_requests_reach_the_api_once(nb, stub, rng):
    cached = nb.CachedChat(make("openai_client", max_retries=0, timeout=5))
    request = _random_request(rng)
    answer = f"Cached answer {_token(rng)}."
    stub.add_rule({"when": {"user_contains": request["messages"][-1]["content"]}, "reply": {"content": answer}})
    contents = [cached.create(**_shuffled(request, rng)).choices[0].message.content for _ in range(3)]
    sent = len(_chat_requests(stub))
    assert sent == 1, (
        f"Three identical requests (dict keys in different orders) reached the API {sent} times: the cache "
        "key depends on dict order (or nothing is cached).")
    assert contents == [answer] * 3, f"CachedChat.create returned the answers {contents}, expected {answer!r}."
    other = _random_request(rng)
    stub.queue_fault("server_error", status=503)
    try:
        cached.create(**other)
    except LearnerRaised as error:
        unanswered(error)
    else:
        fail("CachedChat.create returned something for a call that failed with a 503; let the error out.")
    try:
        cached.create(**other)
    except LearnerRaised as error:
        unanswered(error)
        fail(f"After one failed call, the same request raised {error.type_name} again without a new "
                       "try: a failed call was cached. Cache only responses.")
    assert len(_chat_requests(stub)) == 3, "After a failed call, the same request must try the API again."


@part("api-cache", hint="The key must cover the whole request: model, every message and every parameter.")
def test_different_requests_are_not_confused(nb, stub, rng):
    cached = nb.CachedChat(make("openai_client", max_retries=0, timeout=5))
    request = _random_request(rng)
    variants = [("the original", request), *_variants(request, rng)]
    rng.shuffle(variants)
    models = {}
    for what, variant in variants:
        models[what] = cached.create(**variant).model
    sent = len(_chat_requests(stub))
    assert sent == len(variants), (
        f"{len(variants)} requests that differ in one parameter each (model, temperature, max_tokens, an "
        f"earlier message) reached the API only {sent} times: the cache confused different requests and "
        "served one's answer for another. Key on the whole request.")
    for what, variant in variants:
        assert cached.create(**variant).model == models[what], "A cached response changed between calls."
        assert models[what].startswith(variant["model"]), (
            f"The request for {variant['model']} got a response from {models[what]}.")
    assert len(_chat_requests(stub)) == len(variants), "Repeated requests were not answered from the cache."


# -- part 5: bounded concurrency ------------------------------------------------------------

def _prompts(stub: Any, rng: random.Random, count: int) -> tuple[list[str], list[str]]:
    prompts, answers = [], []
    for i in range(count):
        word = f"{_token(rng, 8)}{i}"
        prompts.append(f"Prompt {i}: say the word {word}.")
        answers.append(f"The word is {word}.")
        stub.add_rule({"when": {"user_contains": word}, "reply": {"content": answers[-1]}})
    return prompts, answers


def _answer_all(nb: Any, prompts: list[str], limit: int) -> Any:
    client = make("async_openai_client", max_retries=0, timeout=5)
    return nb.answer_all(client, prompts, model=MODEL, max_in_flight=limit)


def _check_results(results: Any, prompts: list[str], answers: list[str]) -> None:
    assert isinstance(results, list), f"answer_all returned {results!r}; return a list of dicts."
    assert len(results) == len(prompts), (
        f"answer_all returned {len(results)} results for {len(prompts)} prompts; one per prompt, failures too.")
    for i, result in enumerate(results):
        assert isinstance(result, dict) and {"prompt", "answer", "error"} <= set(result), (
            f"Result {i} is {result!r}; expected a dict with 'prompt', 'answer' and 'error'.")


@part("api-concurrency", weight=1.5, hint="Wrap each request in `async with semaphore:` with "
      "asyncio.Semaphore(max_in_flight), and gather all the tasks.")
def test_requests_in_flight_are_bounded(nb, stub, rng):
    stub.reset()
    limit = rng.randint(3, 5)  # at least 3: one short of it still overlaps, and is told apart from one at a time
    count = rng.randint(2 * limit + 1, 3 * limit)  # three rounds at the limit
    prompts, answers = _prompts(stub, rng, count)
    # Replies wait until answer_all can send nothing more without one: the peak is then exactly
    # what it allows itself, on a quiet machine or a loaded one.
    with stub.holding_replies(nb.settled):
        results = _answer_all(nb, prompts, limit)
    _check_results(results, prompts, answers)
    peak = stub.max_in_flight
    assert peak <= limit, (
        f"With max_in_flight={limit}, answer_all had {peak} requests in flight at once: unbounded "
        "asyncio.gather fires every request together; bound it with an asyncio.Semaphore.")
    assert peak >= 2, (
        f"answer_all sent the {count} requests one at a time (max_in_flight={limit} allows {limit} at once); "
        "run them concurrently.")
    assert peak == limit, (
        f"With max_in_flight={limit}, answer_all never had more than {peak} requests in flight: it uses fewer "
        "than allowed, so a batch takes longer than it needs. Make it asyncio.Semaphore(max_in_flight).")
    sent = len(_chat_requests(stub))
    assert sent == count, f"answer_all made {sent} requests for {count} prompts; make one per prompt."


@part("api-concurrency", hint="asyncio.gather returns results in the order of its arguments; appending "
      "as tasks finish (as_completed) does not.")
def test_results_are_in_input_order(nb, stub, rng):
    limit = rng.randint(2, 4)
    count = rng.randint(limit + 2, 2 * limit + 2)
    prompts, answers = _prompts(stub, rng, count)
    with stub.holding_replies(nb.settled, order="oldest_last"):  # one of the first requests answers last
        results = _answer_all(nb, prompts, limit)
    _check_results(results, prompts, answers)
    got = [result["answer"] for result in results]
    assert got == answers, (  # which answers came first depends on timing: the message must not
        "answer_all's results are not in the order of the prompts (the slowest answers came last): results "
        f"out of order pair answers with the wrong questions. The first result should answer {prompts[0]!r} "
        f"({answers[0]!r}).")
    assert [result["prompt"] for result in results] == prompts, "Each result's 'prompt' must be its own prompt."


@part("api-concurrency", hint="Catch the exception inside the per-prompt coroutine and return an error "
      "dict for that prompt (or gather(..., return_exceptions=True) and convert).")
def test_one_failure_does_not_lose_the_others(nb, stub, rng):
    count, limit = rng.randint(6, 10), rng.randint(2, 4)
    prompts, answers = _prompts(stub, rng, count)
    status = rng.choice([500, 503])
    stub.queue_fault("server_error", status=status)
    try:
        results = _answer_all(nb, prompts, limit)
    except LearnerRaised as error:
        unanswered(error)
        fail(
            f"One request of {count} failed with a {status}, and answer_all raised {error.type_name}: one failure "
            f"lost all {count - 1} answers that worked. Report the error in that prompt's result instead.")
    _check_results(results, prompts, answers)
    failed = [i for i, result in enumerate(results) if result["error"]]
    assert len(failed) == 1, (
        f"One request failed (a {status}), but {len(failed)} results have an error; make one request per "
        "prompt, without retries, and report each failure in its own result.")
    failed_result = results[failed[0]]
    assert failed_result["answer"] is None and isinstance(failed_result["error"], str), (
        f"The failed prompt's result is {failed_result!r}; expected answer None and the error as a string.")
    assert "InternalServerError" in failed_result["error"], (
        f"The failed prompt's error is {failed_result['error']!r}; write '<ErrorType>: <message>'.")
    expected = dict(zip(prompts, answers, strict=True))  # by prompt: the order has its own check
    for i, result in enumerate(results):
        if i != failed[0]:
            want = expected.get(result["prompt"])
            assert result["answer"] == want and result["error"] is None, (
                f"The result for prompt {result['prompt']!r} is {result!r}; expected the answer {want!r}.")


# -- part 6: structured logging --------------------------------------------------------------

REDACTED = "[REDACTED]"


@part("api-logging", hint="Recurse into dicts and lists; replace values of SECRET_FIELDS keys; in strings "
      "substitute KEY_PATTERN and BEARER_PATTERN matches with REDACTED.")
def test_redact_removes_secrets(nb, rng, quick):
    for _ in range(2 if quick else 5):
        keys = [_fake_key(rng), "sk-" + _token(rng, 20), _fake_key(rng), _token(rng, 28), _fake_key(rng)]
        clean = {"model": rng.choice(["gpt-4o", MODEL]), "prompt_tokens": rng.randint(1, 999),
                 "note": "ask-me-anything task-runner sk-8", "attempts": [1, 2]}
        record = {
            **clean,
            rng.choice(["api_key", "API_KEY", "openai_api_key"]): keys[0],
            "headers": {"Authorization": f"Bearer {keys[3]}", "X-Api-Key": keys[1], "content-type": "application/json"},
            "error": f"Error code: 401 - Incorrect API key provided: {keys[2]}. Bearer {keys[3]} rejected",
            "messages": [{"role": "user", "content": f"my key is {keys[4]}, is it valid?"}],
        }
        record = _shuffled(record, rng)
        got = nb.redact(record)
        assert isinstance(got, dict), f"redact(a dict) returned {got!r}."
        text = json.dumps(got)
        for key in keys:
            assert not _leaks(text, key), (
                f"redact left a secret (or part of it) in {text[:300]}...: remove keys under secret field names, "
                "OpenAI-style keys (sk-...) and bearer tokens anywhere in strings.")
        for name, value in clean.items():
            assert got.get(name) == value, (
                f"redact changed {name!r} from {value!r} to {got.get(name)!r}; leave what is not secret as it is.")
        assert got["headers"].get("content-type") == "application/json", "redact changed a header that is not secret."


def _assert_latency(latency: Any, delay: float, outer_ms: float) -> None:
    """latency_ms of a call the API took *delay* seconds to answer (time the client's clock sees
    pass), inside a call into the notebook that took *outer_ms* of real time besides."""
    took = f"a call that took at least {delay * 1000:.0f} ms (the API answered after {delay} s)"
    assert _number(latency), (
        f"latency_ms is {latency!r} ({type(latency).__name__}); log a number of milliseconds (int or float).")
    assert latency != 0, f"latency_ms is 0 for {took}: time the call with time.perf_counter() before and after it."
    assert not (delay * 0.8 <= latency < delay * 100), (
        f"latency_ms is {latency!r} for {took}: that is seconds; multiply by 1000.")
    assert delay * 1000 - 1 <= latency <= delay * 1000 + outer_ms + 1, (
        f"latency_ms is {latency!r} for {took} and ended within {delay * 1000 + outer_ms:.0f} ms: time the call "
        "itself, from just before it to just after it.")


def _records(output: str) -> list[dict]:
    records = []
    for line in output.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            records.append(value)
    return records


@part("api-logging", weight=1.5, hint="Build the record in a try/except/finally around the call: "
      "fill it on success or failure, and log json.dumps(redact(record)) once, in `finally`.")
def test_one_record_per_call(nb, stub, rng):
    client = make("openai_client", max_retries=0, timeout=5)
    model, attempt = rng.choice([MODEL, "gpt-4o"]), rng.randint(1, 4)
    messages = _messages(_question(rng))
    delay = round(rng.uniform(0.2, 1.5), 3)  # on the learner's clock, so latency_ms has something to measure
    stub.queue_fault("delay", seconds=delay, virtual=True)
    started = time.perf_counter()  # the learner's call happens inside this one: it cannot take longer
    response = nb.logged_completion(client, attempt=attempt, model=model, messages=messages, max_tokens=30)
    outer_ms = (time.perf_counter() - started) * 1000
    output = nb.last.output
    assert isinstance(response, LearnerObject) and "ChatCompletion" in response.type_name, (
        f"logged_completion returned {response!r}; return the response.")
    records = _records(output)
    assert len(records) == 1, (
        f"One call to logged_completion logged {len(records)} JSON record(s); expected exactly one, through "
        f"call_logger. Output was: {output[:300]!r}")
    record = records[0]
    sent = _chat_requests(stub)
    prompt_tokens, completion_tokens = _replayed_usage(stub, sent[0].body)
    expected = {"event": "llm_call", "model": model, "attempt": attempt, "status": "ok", "http_status": 200,
                "request_id": f"req_{1:032x}", "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens, "error": None}
    wrong = {name: record.get(name, "<missing>") for name, value in expected.items() if record.get(name, ...) != value}
    assert not wrong, f"The record of a successful call has {wrong}; expected {dict((k, expected[k]) for k in wrong)}."
    _assert_latency(record.get("latency_ms"), delay, outer_ms)
    assert not _leaks(output, stub.api_key), (
        "The log line contains the API key (or part of it): a key in a log line has leaked to everyone who "
        "can read the logs. Never log the client's key; redact the record.")

    stub.reset()
    status = rng.choice([500, 503])
    stub.queue_fault("server_error", status=status)
    try:
        nb.logged_completion(client, attempt=attempt + 1, model=model, messages=messages, max_tokens=30)
    except LearnerRaised as error:
        unanswered(error)
        assert error.is_a("InternalServerError"), (
            f"logged_completion raised {error.type_name} for a {status}; re-raise the error unchanged.")
    else:
        fail(f"logged_completion swallowed a {status} error; log it, then re-raise it.")
    output = nb.last.output
    records = _records(output)
    assert len(records) == 1, (
        f"A failed call logged {len(records)} JSON record(s); log exactly one record for failures too: "
        "they are the calls you need to see.")
    record = records[0]
    expected = {"status": "error", "http_status": status, "request_id": f"req_{1:032x}", "attempt": attempt + 1,
                "prompt_tokens": None, "completion_tokens": None}
    wrong = {name: record.get(name, "<missing>") for name, value in expected.items() if record.get(name, ...) != value}
    assert not wrong, f"The record of a failed call has {wrong}; expected {dict((k, expected[k]) for k in wrong)}."
    assert _number(record.get("latency_ms")) and record["latency_ms"] >= 0, (
        f"The failed call's latency_ms is {record.get('latency_ms')!r}; log its duration too, in milliseconds.")
    assert isinstance(record.get("error"), str) and "InternalServerError" in record["error"], (
        f"The failed call's error field is {record.get('error')!r}; write '<ErrorType>: <message>'.")
    assert not _leaks(output, stub.api_key), "The log line of a failed call contains the API key."
