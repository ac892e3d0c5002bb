"""The checks' view of a notebook: the ``nb`` fixture.

``nb.retry(...)`` calls the learner's ``retry`` and returns plain data, or a
:class:`LearnerObject` for anything else (a class instance, a client). Whatever the
learner code raises arrives as :class:`LearnerRaised`; a name the notebook never
defined as :class:`MissingDefinition`. The backend is a function taking one operation
and returning the reply: a child process when grading, the kernel inside Jupyter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from grader.engine import codec
from grader.engine.stub_calls import ChatCall

Backend = Callable[[dict], dict]


class MissingDefinition(Exception):
    """The notebook does not define a name a check needs."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class LearnerTimeout(Exception):
    """Learner code ran past the time limit for one call."""


class LearnerRaised(Exception):
    """Learner code raised; carries a description of the exception, never the object itself."""

    def __init__(self, description: dict):
        self.description = description
        self.type_name: str = description["type"]
        self.message: str = description["message"]
        self.status_code: int | None = description.get("status_code")
        super().__init__(f"{self.type_name}: {self.message}")

    def is_a(self, name: str) -> bool:
        """True if the exception is (a subclass of) *name*: ``"RateLimitError"`` or
        ``"openai.RateLimitError"`` (which matches ``openai._exceptions.RateLimitError``)."""
        package, _, cls = name.rpartition(".")
        for qualified in self.description.get("mro", []):
            module, _, qualified_cls = qualified.rpartition(".")
            if qualified_cls == cls and (not package or module == package
                                         or module.startswith(package + ".")):
                return True
        return False


def kind(value: Any) -> str:
    """The learner-side type name of a value, for feedback ("returned a Decimal, expected a float")."""
    return value.type_name.rsplit(".", 1)[-1] if isinstance(value, LearnerObject) else type(value).__name__


class Factory:
    """An object the learner's side should build itself, e.g. ``make("openai_client", timeout=5)``."""

    def __init__(self, name: str, kwargs: dict[str, Any]):
        self.name, self.kwargs = name, kwargs


GRADING_SIDE = {"chat_call": ChatCall}


def make(factory: str, **kwargs: Any) -> Factory | ChatCall:
    """An object for learner code: built on the grading side when a check measures its use
    (``chat_call``: see ``stub_calls``), else by the learner's side (an SDK client)."""
    if factory in GRADING_SIDE:
        return GRADING_SIDE[factory](**kwargs)
    return Factory(factory, kwargs)


@dataclass
class LastCall:
    sleeps: list[float] = field(default_factory=list)
    output: str = ""


class Learner:
    """The ``nb`` fixture: attribute access reaches names defined by the notebook."""

    def __init__(self, backend: Backend, stub: Any = None, settled: Callable[[], bool] | None = None):
        """*stub*: the stub LLM that grading-side calls (``make("chat_call")``) go to.
        *settled*: whether learner code is blocked waiting for the stub (``quiescence``)."""
        self._backend = backend
        self.stub = stub
        self._settled = settled
        self.last = LastCall()
        self._calls: list[ChatCall] = []
        self._network_time_scale: float | None = None

    @contextmanager
    def network_time_scaled(self, factor: float) -> Iterator[None]:
        """Calls in the block see every socket timeout divided by *factor* (see ``network_time``)."""
        self._network_time_scale = factor
        try:
            yield
        finally:
            self._network_time_scale = None

    def settled(self) -> bool:
        """True when learner code can make no progress until the stub replies: what
        ``stub.holding_replies(nb.settled)`` waits for. Without a probe, never."""
        return self._settled() if self._settled is not None else False

    def __getattr__(self, name: str) -> LearnerObject:
        if name.startswith("__"):
            raise AttributeError(name)
        return LearnerObject(self, {"name": name}, name, "")

    def __contains__(self, name: str) -> bool:
        try:
            self._run({"op": "get", "target": {"name": name}})
        except MissingDefinition:
            return False
        return True

    def value(self, name: str) -> Any:
        return self._run({"op": "get", "target": {"name": name}})

    def hold(self, value: Any) -> LearnerObject:
        """*value* (plain data, ``make(...)``) built on the learner's side and kept there: learner code
        given it gets that object, not a copy, and ``.get()`` reads it back afterwards (did a function
        change the list it was given?)."""
        return self._run({"op": "hold", "value": self._encode(value)})

    def _run(self, request: dict) -> Any:
        if self._network_time_scale:
            request = {**request, "network_time_scale": self._network_time_scale}
        reply = self._backend(request)
        while "callback" in reply:  # learner code called a grading-side call: make its request
            reply = self._backend(self.answer_callback(reply))
        if "missing" in reply:
            raise MissingDefinition(reply["missing"])
        self.last = LastCall(reply.get("sleeps", []), reply.get("output", ""))
        if reply.get("timeout"):
            raise LearnerTimeout()
        if "raised" in reply:
            raise LearnerRaised(reply["raised"])
        return codec.decode(reply["value"], self._resolve)

    def _resolve(self, marker: dict) -> Any:
        if "$handle" not in marker:
            raise ValueError("learner code sent a factory reference")
        return LearnerObject(self, {"handle": marker["$handle"]}, marker.get("type", "?"),
                             marker.get("repr", ""))

    def answer_callback(self, message: dict) -> dict:
        """Run the grading-side call learner code asked for; the answer goes back as data."""
        number = message["callback"]
        if not 1 <= number <= len(self._calls):  # forged by learner code: it fails only its own call
            return {"op": "callback_result", "value": {"transport_error": "disconnected"}}
        return {"op": "callback_result", "value": self._calls[number - 1].invoke(self.stub)}

    def _register(self, call: ChatCall) -> dict:
        self._calls.append(call)
        return {"$callback": len(self._calls), **call.wire()}

    def _encode(self, value: Any) -> Any:
        def keep(item: Any) -> int:
            raise TypeError(f"a check tried to pass a {type(item).__name__} to learner code; "
                            "only plain data, learner objects and make(...) can cross")

        return codec.encode(value, keep, marker=self._marker)

    def _marker(self, item: Any) -> dict | None:
        """The wire marker of a learner object, grading-side call or factory inside check arguments."""
        if isinstance(item, LearnerObject):
            return item.marker()
        if isinstance(item, ChatCall):
            return self._register(item)
        if isinstance(item, Factory):
            return {"$ref": item.name, "kwargs": codec.encode(item.kwargs, _no_objects)}
        return None


def _no_objects(item: Any) -> int:
    raise TypeError(f"factory arguments must be plain data, not {type(item).__name__}")


class LearnerObject:
    """A reference to something on the learner's side (a function, an instance, ...)."""

    def __init__(self, learner: Learner, target: dict, type_name: str, repr_text: str):
        self._learner, self._target = learner, target
        self.type_name, self.repr_text = type_name, repr_text

    def marker(self) -> dict:
        if "handle" not in self._target:
            handle = self._learner._run({"op": "get", "target": self._target})
            if not isinstance(handle, LearnerObject):
                raise TypeError(f"{self.type_name} is plain data, pass its value instead")
            self._target = handle._target
        return {"$handle": self._target["handle"]}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        learner = self._learner
        return learner._run({"op": "call", "target": self._target,
                             "args": learner._encode(list(args)), "kwargs": learner._encode(kwargs)})

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return self._learner._run({"op": "getattr", "target": self._target, "attr": attr})

    def __len__(self) -> int:
        return self._learner._run({"op": "len", "target": self._target})

    def __getitem__(self, key: Any) -> Any:
        return self._learner._run({"op": "getitem", "target": self._target,
                                   "key": self._learner._encode(key)})

    def __iter__(self):
        return iter(self._learner._run({"op": "list", "target": self._target}))

    def get(self) -> Any:
        """The value itself: plain data if it is plain data."""
        return self._learner._run({"op": "get", "target": self._target})

    def __repr__(self) -> str:
        return self.repr_text or f"<learner {self.type_name}>"
