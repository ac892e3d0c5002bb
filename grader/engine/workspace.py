"""The learner's side of a check: run one operation on the notebook's objects.

A check asks for operations (call a function, read an attribute, ...) on names in the
notebook's namespace or on handles to objects returned earlier. Results go back as plain
data (see ``codec``), together with the sleeps taken on the virtual clock and what the
code printed. When grading, a ``Workspace`` lives in the child process that ran the
learner's cells; inside Jupyter, ``check()`` uses one in the kernel itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import sys
from typing import Any

from grader.engine import codec, network_time
from grader.engine.callbacks import Ask, GraderCall
from grader.engine.clock import CLOCK
from grader.engine.deadline import Deadline, TimeLimit
from grader.stub.wire import NETWORK_SECONDS

OUTPUT_LIMIT = 20_000


class MissingName(Exception):
    """A check needs a name the notebook has not defined."""


class CappedText(io.StringIO):
    """Keeps the first ``OUTPUT_LIMIT`` characters of what learner code prints."""

    def write(self, text: str) -> int:
        room = OUTPUT_LIMIT - self.tell()
        if room > 0:
            super().write(text[:room])
        return len(text)


_shared: dict[str, Any] = {}


def _pass_network_time(response: Any) -> None:
    """A delay the stub told rather than waited out moves the caller's clock (a ``virtual`` delay fault)."""
    CLOCK.pass_time(float(response.headers.get(NETWORK_SECONDS, 0)))


async def _async_pass_network_time(response: Any) -> None:
    _pass_network_time(response)


def _openai_client(**kwargs: Any) -> Any:
    """An SDK client whose replies' delays pass on the virtual clock; clients a check builds
    share one HTTP connection pool, because creating a pool (and its TLS context) costs tens
    of milliseconds each time."""
    import openai

    if "http_client" not in kwargs:
        if "http" not in _shared:
            _shared["http"] = openai.DefaultHttpx2Client(event_hooks={"response": [_pass_network_time]})
        kwargs["http_client"] = _shared["http"]
    return openai.OpenAI(**kwargs)


def _async_openai_client(**kwargs: Any) -> Any:
    import openai

    if "http_client" not in kwargs:
        kwargs["http_client"] = openai.DefaultAsyncHttpx2Client(event_hooks={"response": [_async_pass_network_time]})
    return openai.AsyncOpenAI(**kwargs)


def _chat_completion(request: dict, client: dict | None = None) -> Any:
    """A real SDK ``ChatCompletion``, for learner code that reads responses (what it is given,
    not what a check measures, so it may be made here)."""
    return _openai_client(**(client or {"max_retries": 0})).chat.completions.create(**request)


def _annotation(spec: dict) -> Any:
    """A type annotation from a JSON Schema-like spec (``{"type": ["integer", "string"]}`` is
    ``int | str``): names from a fixed table, never check-supplied text evaluated."""
    from grader.agentdesk import bfcl

    made = bfcl.annotation(spec)
    if made is None:
        raise ValueError(f"no Python annotation for {spec!r}: see grader.agentdesk.bfcl.annotation")
    return made


# Objects a check can ask the learner's side to build (they cannot cross as data). A call
# whose attempts a check counts is not built here but on the grading side (``stub_calls``).
FACTORIES = {
    "openai_client": _openai_client,
    "async_openai_client": _async_openai_client,
    "chat_completion": _chat_completion,
    "annotation": _annotation,
}


class Workspace:
    def __init__(self, namespace: dict[str, Any], loop: asyncio.AbstractEventLoop | None = None,
                 in_kernel: bool = False, call_timeout: float | None = None, ask: Ask | None = None):
        """*in_kernel*: running inside Jupyter, where stopping the kernel must stop a check;
        *call_timeout*: seconds each operation may take (interrupted by SIGALRM, main thread);
        *ask*: sends a grading-side call's request to the grader and returns its answer."""
        self.namespace = namespace
        self.ask = ask
        self.loop = loop
        self.in_kernel = in_kernel
        self.call_timeout = call_timeout
        self.deadline = Deadline()
        self._objects: dict[int, Any] = {}
        self._async_clients: list[Any] = []  # made for the current call; closed when it ends

    def keep(self, value: Any) -> int:
        handle_id = len(self._objects) + 1
        self._objects[handle_id] = value
        return handle_id

    def _resolve(self, marker: dict) -> Any:
        if "$handle" in marker:
            return self._objects[marker["$handle"]]
        if "$callback" in marker:
            if self.ask is None:
                raise RuntimeError("this workspace cannot reach the grader for a grading-side call")
            return GraderCall(self.ask, marker)
        made = FACTORIES[marker["$ref"]](**codec.decode(marker.get("kwargs", {"$dict": []}), self._resolve))
        if marker["$ref"] == "async_openai_client":
            self._async_clients.append(made)
        return made

    def _target(self, target: dict) -> Any:
        if "handle" in target:
            return self._objects[target["handle"]]
        name = target["name"]
        if name not in self.namespace:
            raise MissingName(name)
        return self.namespace[name]

    def run(self, request: dict) -> dict:
        """Perform one operation; never raises for anything learner code does.

        Everything that touches learner objects (the call, but also encoding the result,
        which runs their ``__repr__``, and describing an exception, which runs its
        ``__str__``) happens under the call's time limit.
        """
        output = CappedText()
        saved = sys.stdout, sys.stderr
        with CLOCK.call() as sleeps:
            try:
                with self.deadline.limit(self.call_timeout):
                    sys.stdout = sys.stderr = output
                    reply = self._reply(request)
            except TimeLimit:
                reply = {"timeout": True}
            finally:
                sys.stdout, sys.stderr = saved
        if "missing" not in reply:
            reply["sleeps"] = list(sleeps)
            reply["output"] = output.getvalue()
        return reply

    def _reply(self, request: dict) -> dict:
        try:
            target = self._target(request["target"]) if "target" in request else None
        except MissingName as missing:
            return {"missing": str(missing)}
        try:
            with network_time.scaled(request.get("network_time_scale")):
                value = self._perform(target, request)
        except TimeLimit:
            raise
        except BaseException as error:  # learner code may raise anything, SystemExit included
            if self.in_kernel and isinstance(error, KeyboardInterrupt):
                raise  # the learner pressed stop in Jupyter
            return {"raised": codec.describe_exception(error)}
        try:
            if request["op"] == "hold":  # kept here even when it is plain data, for the check to read back
                return {"value": codec.handle(value, self.keep)}
            return {"value": codec.encode(value, self.keep)}
        except TimeLimit:
            raise
        except BaseException as error:  # e.g. a learner's __class__ property that raises
            return {"raised": codec.describe_exception(error)}

    def _perform(self, target: Any, request: dict) -> Any:
        operation = request["op"]
        if operation == "get":
            return target
        if operation == "getattr":
            return getattr(target, request["attr"])
        if operation == "len":
            return len(target)
        if operation == "list":
            return list(target)
        if operation == "getitem":
            return target[codec.decode(request["key"], self._resolve)]
        if operation == "hold":
            return codec.decode(request["value"], self._resolve)
        if operation == "call":
            args = codec.decode(request.get("args", []), self._resolve)
            kwargs = codec.decode(request.get("kwargs", {"$dict": []}), self._resolve)
            result = target(*args, **kwargs)
            if inspect.isawaitable(result):
                result = self._await(result)
            return result
        raise ValueError(f"unknown operation {operation!r}")


    def _await(self, awaitable: Any) -> Any:
        """Await a learner coroutine: on the notebook's own loop when grading, or from a
        helper thread inside Jupyter, whose loop is already running."""
        clients, self._async_clients = self._async_clients, []
        if self.loop is not None and not self.loop.is_running():
            return self.loop.run_until_complete(_wrap(awaitable, clients))
        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, _wrap(awaitable, clients)).result()


async def _wrap(awaitable: Any, clients: list[Any]) -> Any:
    """Await *awaitable*, then close the async clients a check made for it, on the same loop.

    Left to the garbage collector, a client's connections are closed behind the loop's back:
    the loop keeps their file numbers registered, and a later connection that reuses one is
    never watched, so its reply sits unread until the client times out (seen as a random
    APITimeoutError in a later check, when the notebook's one loop runs every check).
    """
    try:
        return await awaitable
    finally:
        for client in clients:
            with contextlib.suppress(Exception):  # a client learner code broke must not hide its result
                await client.close()
