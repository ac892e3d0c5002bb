"""The learner side of a check, in-process: calls, handles, the virtual clock, output capture."""

import asyncio
import time

import pytest

from grader.engine import clock
from grader.engine.remote import Learner, LearnerRaised, MissingDefinition, kind
from grader.engine.workspace import Workspace

real_clock = clock._real_perf_counter  # time.perf_counter itself includes virtual sleeps


@pytest.fixture
def learner():
    clock.install()
    source = """
import time, asyncio

def backoff(n):
    waited = []
    for attempt in range(n):
        start = time.monotonic()
        time.sleep(2 ** attempt)
        waited.append(time.monotonic() - start)
    return waited

async def fetch(x):
    await asyncio.sleep(30)
    return x * 2

class Counter:
    def __init__(self):
        self.count = 0
    def add(self, k):
        self.count += k
        print("added", k)
        return self

def broken():
    raise ValueError("bad input")
"""
    namespace = {}
    exec(source, namespace)
    return Learner(Workspace(namespace).run)


def test_sleeps_are_virtual_instant_and_recorded(learner):
    started = real_clock()
    waited = learner.backoff(6)
    assert real_clock() - started < 0.5
    assert learner.last.sleeps == [1, 2, 4, 8, 16, 32]
    assert all(w >= s for w, s in zip(waited, [1, 2, 4, 8, 16, 32], strict=True)), "monotonic moves with sleeps"


def test_coroutines_are_awaited_with_virtual_asyncio_sleep(learner):
    started = real_clock()
    assert learner.fetch(21) == 42
    assert real_clock() - started < 0.5 and learner.last.sleeps == [30]


def test_objects_stay_behind_handles(learner):
    counter = learner.Counter()
    assert kind(counter) == "Counter"
    same = counter.add(3)
    assert learner.last.output == "added 3\n"
    assert kind(same) == "Counter" and counter.count == 3


def test_exceptions_and_missing_names(learner):
    with pytest.raises(LearnerRaised) as raised:
        learner.broken()
    assert raised.value.is_a("ValueError") and raised.value.message == "bad input"
    assert not raised.value.is_a("openai.RateLimitError")
    with pytest.raises(MissingDefinition):
        learner.nothing_here()
    assert "backoff" in learner and "nothing_here" not in learner


def test_real_sleeps_outside_checks():
    clock.install()
    started = real_clock()
    time.sleep(0.05)
    asyncio.run(asyncio.sleep(0.05))
    assert real_clock() - started >= 0.1


def test_in_a_kernel_threads_that_were_already_running_keep_real_time():
    import threading

    clock.install()
    stop = threading.Event()
    poller_sleeps = []

    def poller():  # like ipykernel's parent poller: time.sleep in a loop
        while not stop.is_set():
            started = real_clock()
            time.sleep(0.01)
            poller_sleeps.append(real_clock() - started)

    thread = threading.Thread(target=poller, daemon=True)
    thread.start()
    namespace = {}
    exec("import time\ndef wait():\n    time.sleep(100)\n    return 'done'\n", namespace)
    learner = Learner(Workspace(namespace, in_kernel=True).run)
    assert learner.wait() == "done"
    time.sleep(0.05)
    stop.set()
    thread.join()
    assert learner.last.sleeps == [100], "only the checked code's sleeps are virtual and recorded"
    assert poller_sleeps and min(poller_sleeps) >= 0.009, "the kernel's thread slept for real"


def test_async_clients_a_check_makes_are_closed_on_the_notebooks_loop():
    """Left to the garbage collector, their connections close behind the loop's back; a later
    connection reusing a file number is then never watched and times out (issue 8)."""
    from grader.engine.remote import make

    namespace = {}
    exec("kept = []\nasync def use(client):\n    kept.append(client)\n    return client.is_closed()\n", namespace)
    loop = asyncio.new_event_loop()
    try:
        learner = Learner(Workspace(namespace, loop=loop).run)
        assert learner.use(make("async_openai_client", api_key="sk-test", base_url="http://127.0.0.1:9/v1")) is False
        assert namespace["kept"][0].is_closed(), "the client the check made must be closed when its call ends"
    finally:
        loop.close()


LEARNER_TIMING = """
import time

def timed(client, timeout):
    started = time.perf_counter()
    try:
        reply = client.with_options(timeout=timeout).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    except Exception as error:
        return type(error).__name__, time.perf_counter() - started
    return reply.choices[0].message.content is not None, time.perf_counter() - started

async def timed_async(client, timeout):
    started = time.perf_counter()
    try:
        reply = await client.with_options(timeout=timeout).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    except Exception as error:
        return type(error).__name__, time.perf_counter() - started
    return reply.choices[0].message.content is not None, time.perf_counter() - started
"""


@pytest.mark.parametrize(("kind", "function"), [("openai_client", "timed"), ("async_openai_client", "timed_async")])
def test_clients_a_check_makes_pass_a_replys_delay_on_the_virtual_clock(kind, function):
    """A model that takes seconds to answer costs the check no real time, yet learner code
    timing the call sees those seconds; a delay beyond the client's timeout still times it out."""
    from grader.engine.remote import make
    from grader.stub import StubLLM

    clock.install()
    namespace = {}
    exec(LEARNER_TIMING, namespace)
    stub, loop = StubLLM(api_key="sk-test"), asyncio.new_event_loop()
    try:
        with stub.serve() as server:
            timed = getattr(Learner(Workspace(namespace, loop=loop).run), function)
            client = {"api_key": "sk-test", "base_url": server.base_url, "max_retries": 0}
            stub.queue_fault("delay", seconds=30, virtual=True)
            started = real_clock()
            answered, seconds = timed(make(kind, **client), 60)
            assert answered is True and seconds >= 30 and real_clock() - started < 5
            stub.queue_fault("delay", seconds=30, virtual=True)
            outcome, seconds = timed(make(kind, **client), 0.3)
            assert outcome == "APITimeoutError" and 0.3 <= seconds < 5
    finally:
        loop.close()


def test_a_held_value_is_the_object_learner_code_gets_and_is_read_back():
    """A list passed as data arrives as a copy, so a check could not see learner code change it;
    a held one is the learner's own object (issue 14)."""
    namespace = {}
    exec("def grow(items):\n    items.append(len(items))\n    return len(items)\n", namespace)
    learner = Learner(Workspace(namespace).run)
    assert learner.grow([1]) == 2
    held = learner.hold([1])
    assert kind(held) == "list" and held.get() == [1]
    assert learner.grow(held) == 2 and learner.grow(held) == 3
    assert held.get() == [1, 1, 2]


def test_factories_build_annotations_from_a_spec_never_from_text():
    from grader.engine.remote import make

    namespace = {}
    exec("import typing\ndef args(annotation):\n    return [a.__name__ for a in typing.get_args(annotation)]\n",
         namespace)
    learner = Learner(Workspace(namespace).run)
    assert learner.args(make("annotation", spec={"type": ["integer", "string"]})) == ["int", "str"]
    assert learner.args(make("annotation", spec={"type": ["float", "null"]})) == ["float", "NoneType"]
    with pytest.raises(LearnerRaised) as raised:
        learner.args(make("annotation", spec={"type": "__import__('os').system('true')"}))
    assert raised.value.is_a("ValueError") and "no Python annotation" in raised.value.message
