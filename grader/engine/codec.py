"""Plain-data encoding for values that cross between learner code and the checks.

Checks never receive learner objects directly. A value is either plain data of an
exact built-in type (``type(x) is int``, not a subclass, so an object whose ``__eq__``
always returns True cannot pass a comparison), a numpy array, or a *handle*: an opaque
reference to an object that stays on the learner's side and is used through RPC.
The same encoding runs in the notebook's own kernel (``check()``) and across the
process boundary when grading, so a check behaves the same in both places.
"""

from __future__ import annotations

import base64
import math
import reprlib
import sys
from collections.abc import Callable
from typing import Any

from grader.engine.deadline import TimeLimit

MAX_DEPTH = 40
MAX_ITEMS = 200_000
MAX_CHARACTERS = 16_000_000  # of strings and bytes in one value: a reply stays far below the channel's cap
MAX_INT_BITS = 3_000  # about 900 digits; larger ints (10**5000 cannot even be printed) stay behind a handle

_CONTAINERS = (list, tuple, set, frozenset, dict)
_NESTED = frozenset({list, dict})  # what an encoded value's items can be that holds more inside


def type_name(value: Any) -> str:
    kind = type(value)
    module = kind.__module__
    return kind.__qualname__ if module in ("builtins", "__main__") else f"{module}.{kind.__qualname__}"


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = 200


def short_repr(value: Any, limit: int = 200) -> str:
    """A bounded repr: fast for huge built-in containers; a learner's ``__repr__`` may raise
    anything (a hang is stopped by the caller's time limit)."""
    try:
        text = _REPR.repr(value)
    except TimeLimit:
        raise
    except BaseException as error:
        text = f"<{type_name(value)} (repr raised {type(error).__name__})>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _numpy_array(value: Any) -> dict | None:
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return None
    if type(value) is numpy.ndarray and value.dtype.kind in "biufc":
        array = numpy.ascontiguousarray(value)
        return {"$ndarray": {"dtype": array.dtype.str, "shape": list(array.shape),
                             "data": base64.b64encode(array.tobytes()).decode("ascii")}}
    if isinstance(value, numpy.generic) and type(value).__module__ == "numpy" and value.dtype.kind in "biufc":
        return {"$npscalar": {"dtype": value.dtype.str,
                              "data": base64.b64encode(value.tobytes()).decode("ascii")}}
    return None


def encode(value: Any, keep: Callable[[Any], int], *, marker: Callable[[Any], dict | None] | None = None) -> Any:
    """Encode *value*; objects that are not plain data are registered with *keep* as handles.

    *marker* (checks only) gives the wire marker of an object of the checks' own that stands for
    something on the learner's side (a learner object, a grading-side call), or None.
    """
    budget, characters = MAX_ITEMS, MAX_CHARACTERS

    def walk(item: Any, depth: int) -> Any:
        nonlocal budget, characters
        budget -= 1
        kind = type(item)
        if kind is str or kind is bytes:
            characters -= len(item)
        if budget < 0 or characters < 0 or depth > MAX_DEPTH:
            return handle(item, keep)
        # The commonest kinds first: a payload is mostly strings and numbers.
        if kind is str:
            return item if _valid_unicode(item) else handle(item, keep)
        if kind is int:
            return item if item.bit_length() <= MAX_INT_BITS else handle(item, keep)
        if kind is float:
            return item if math.isfinite(item) else {"$float": repr(item)}
        if kind is bool or item is None:
            return item
        if kind in _CONTAINERS and len(item) * (1 + (kind is dict)) > budget:
            return handle(item, keep)  # too big for what is left: stays whole behind one handle
        if kind is dict:
            return {"$dict": [[walk(k, depth + 1), walk(v, depth + 1)] for k, v in item.items()]}
        if kind in (list, tuple) and _plain_numbers(item):  # a vector: no need to walk it item by item
            budget -= len(item)
            return list(item) if kind is list else {"$tuple": list(item)}
        if kind is list:
            return [walk(x, depth + 1) for x in item]
        if kind is tuple:
            return {"$tuple": [walk(x, depth + 1) for x in item]}
        if kind in (set, frozenset):
            return {"$set": [walk(x, depth + 1) for x in item]}
        if marker is not None and (wired := marker(item)) is not None:
            return wired
        if kind is bytes:
            return {"$bytes": base64.b64encode(item).decode("ascii")}
        array = _numpy_array(item)
        return array if array is not None else handle(item, keep)

    return walk(value, 0)


def _plain_numbers(items: list | tuple) -> bool:
    """Whether every item is a finite float or a small int, which :func:`encode` keeps as it is."""
    return all((type(x) is float and math.isfinite(x)) or (type(x) is int and x.bit_length() <= MAX_INT_BITS)
               for x in items)


def _valid_unicode(text: str) -> bool:
    """False for a string with lone surrogates ("\\ud800"), which is not valid JSON text."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def handle(value: Any, keep: Callable[[Any], int]) -> dict:
    """*value* kept behind a handle whatever it is, plain data included."""
    return {"$handle": keep(value), "type": type_name(value), "repr": short_repr(value)}


def decode(data: Any, resolve: Callable[[dict], Any]) -> Any:
    """Inverse of :func:`encode`; *resolve* turns ``$handle``/``$ref`` markers into objects."""
    kind = type(data)
    if kind is list:
        if not any(type(item) in _NESTED for item in data):  # a vector: nothing inside to decode
            return data[:]
        return [decode(item, resolve) for item in data]
    if kind is not dict:
        return data
    for key in data:  # a marker has one key that says what it is (a handle's comes with its repr)
        if key == "$dict":
            return {decode(k, resolve): decode(v, resolve) for k, v in data["$dict"]}
        if key == "$tuple":
            return tuple(decode(item, resolve) for item in data["$tuple"])
        if key == "$float":
            return float(data["$float"])
        if key == "$set":
            return {decode(item, resolve) for item in data["$set"]}
        if key == "$bytes":
            return base64.b64decode(data["$bytes"])
        if key in ("$ndarray", "$npscalar"):
            return _decode_numpy(data)
        if key in ("$handle", "$ref", "$callback"):
            return resolve(data)
    raise ValueError(f"unknown encoded value: {sorted(data)}")


def _decode_numpy(data: dict) -> Any:
    import numpy

    if "$ndarray" in data:
        spec = data["$ndarray"]
        raw = base64.b64decode(spec["data"])
        return numpy.frombuffer(raw, dtype=numpy.dtype(spec["dtype"])).reshape(spec["shape"]).copy()
    spec = data["$npscalar"]
    return numpy.frombuffer(base64.b64decode(spec["data"]), dtype=numpy.dtype(spec["dtype"]))[0]


def _safe_str(error: BaseException) -> str:
    try:
        return str(error)
    except TimeLimit:
        raise
    except BaseException:  # a learner's exception may break its own __str__
        return short_repr(error)


def describe_exception(error: BaseException) -> dict:
    """What the checks may learn about an exception learner code raised: data, not the object."""
    try:
        status = getattr(error, "status_code", None)
    except TimeLimit:
        raise
    except BaseException:  # a learner's __getattr__
        status = None
    return {
        "type": type(error).__name__,
        "module": type(error).__module__,
        "mro": [f"{k.__module__}.{k.__qualname__}" for k in type(error).__mro__],
        "message": _safe_str(error)[:2000],
        "status_code": status if type(status) is int else None,
    }
