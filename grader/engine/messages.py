"""The typed schema of every message the learner's side sends to the grader.

The child runs learner code, so whatever arrives on the grading socket may have been
written by that code: a list where an object belongs, JSON nested 100,000 deep, a field
missing or one too many. Each message is validated here, strictly (no coercion, extra
fields forbidden, nesting bounded by the parser's recursion limit), before any other
code reads it; anything else raises :class:`ProtocolViolation` with the reason.

TypedDicts, not models, so that a valid message is the same plain ``dict`` the rest of
the engine (and ``codec.decode``) already reads.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError, with_config
from typing_extensions import NotRequired, TypeAliasType, TypedDict

from grader.engine.protocol import ProtocolViolation

_STRICT = ConfigDict(extra="forbid", strict=True)

# -- values crossing the boundary (see codec.encode) ------------------------------------------

FloatMarker = with_config(_STRICT)(TypedDict("FloatMarker", {"$float": Literal["inf", "-inf", "nan"]}))
TupleMarker = with_config(_STRICT)(TypedDict("TupleMarker", {"$tuple": "list[Encoded]"}))
SetMarker = with_config(_STRICT)(TypedDict("SetMarker", {"$set": "list[Encoded]"}))
DictMarker = with_config(_STRICT)(TypedDict("DictMarker", {"$dict": "list[tuple[Encoded, Encoded]]"}))
BytesMarker = with_config(_STRICT)(TypedDict("BytesMarker", {"$bytes": str}))


@with_config(_STRICT)
class ArraySpec(TypedDict):
    dtype: Annotated[str, Field(max_length=16)]
    shape: list[Annotated[int, Field(ge=0)]]
    data: str


@with_config(_STRICT)
class ScalarSpec(TypedDict):
    dtype: Annotated[str, Field(max_length=16)]
    data: str


ArrayMarker = with_config(_STRICT)(TypedDict("ArrayMarker", {"$ndarray": ArraySpec}))
ScalarMarker = with_config(_STRICT)(TypedDict("ScalarMarker", {"$npscalar": ScalarSpec}))
HandleMarker = with_config(_STRICT)(TypedDict("HandleMarker", {"$handle": Annotated[int, Field(ge=1)],
                                                                 "type": str, "repr": str}))

_MARKERS = {"$float": FloatMarker, "$tuple": TupleMarker, "$set": SetMarker, "$dict": DictMarker,
            "$bytes": BytesMarker, "$ndarray": ArrayMarker, "$npscalar": ScalarMarker, "$handle": HandleMarker}
_PLAIN = {type(None): "null", bool: "bool", int: "int", float: "float", str: "str", list: "list"}


def _encoded_kind(value: Any) -> str | None:
    """Which form of encoded value this is, chosen by its JSON type or its marker's key, so
    validation goes straight to one schema (and its errors name the right one)."""
    if isinstance(value, dict):
        return next((key for key in value if key in _MARKERS), None)
    return _PLAIN.get(type(value))


_FORMS = (Annotated[None, Tag("null")], Annotated[bool, Tag("bool")], Annotated[int, Tag("int")],
          Annotated[float, Tag("float")], Annotated[str, Tag("str")], Annotated[list["Encoded"], Tag("list")],
          *(Annotated[marker, Tag(key)] for key, marker in _MARKERS.items()))
Encoded = TypeAliasType("Encoded", Annotated[Union[_FORMS], Discriminator(  # noqa: UP007
    _encoded_kind, custom_error_type="encoded_value", custom_error_message="not an encoded value (see codec.encode)")])


# -- while the cells run -----------------------------------------------------------------------

@with_config(_STRICT)
class CellError(TypedDict):
    type: str
    message: str
    traceback: NotRequired[str]


@with_config(_STRICT)
class CellStart(TypedDict):
    event: Literal["cell_start"]
    index: Annotated[int, Field(ge=0)]


@with_config(_STRICT)
class CellEnd(TypedDict):
    event: Literal["cell_end"]
    index: Annotated[int, Field(ge=0)]
    status: Literal["ok", "error", "timeout"]
    error: NotRequired[CellError]
    output: str


@with_config(_STRICT)
class CellsDone(TypedDict):
    event: Literal["cells_done"]


CellEvent = Annotated[Union[CellStart, CellEnd, CellsDone], Field(discriminator="event")]  # noqa: UP007


# -- while the checks run ----------------------------------------------------------------------

@with_config(_STRICT)
class ExceptionDescription(TypedDict):
    type: str
    module: str
    mro: list[str]
    message: str
    status_code: int | None


@with_config(_STRICT)
class Missing(TypedDict):
    missing: str


@with_config(_STRICT)
class Returned(TypedDict):
    value: Encoded
    sleeps: list[float]
    output: str


@with_config(_STRICT)
class Raised(TypedDict):
    raised: ExceptionDescription
    sleeps: list[float]
    output: str


@with_config(_STRICT)
class TimedOut(TypedDict):
    timeout: Literal[True]
    sleeps: list[float]
    output: str


@with_config(_STRICT)
class Callback(TypedDict):
    """Learner code called a grader-side callable (see ``callbacks``)."""

    callback: Annotated[int, Field(ge=1)]
    args: list[Encoded]
    kwargs: DictMarker


_REPLIES = {"missing": Missing, "value": Returned, "raised": Raised, "timeout": TimedOut, "callback": Callback}


def _reply_kind(message: Any) -> str | None:
    if isinstance(message, dict):
        return next((key for key in message if key in _REPLIES), None)
    return None


Reply = Annotated[Union[tuple(Annotated[model, Tag(key)] for key, model in _REPLIES.items())],  # noqa: UP007
                  Discriminator(_reply_kind, custom_error_type="reply",
                                custom_error_message="not a reply: an object with one of "
                                                     + ", ".join(_REPLIES))]

_CELL_EVENT: TypeAdapter[Any] = TypeAdapter(CellEvent)
_REPLY: TypeAdapter[Any] = TypeAdapter(Reply)


def _decode(adapter: TypeAdapter[Any], data: bytes, what: str) -> dict:
    try:
        return adapter.validate_json(data)
    except ValidationError as error:
        problem = error.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in problem["loc"]) or "the message"
        raise ProtocolViolation(f"the notebook's process sent a malformed {what} ({where}: {problem['msg']}); "
                                "learner code wrote to the grading socket") from None


def cell_event(data: bytes) -> dict:
    """A message sent while the cells run: ``cell_start``, ``cell_end`` or ``cells_done``."""
    return _decode(_CELL_EVENT, data, "cell event")


def reply(data: bytes) -> dict:
    """A message sent while the checks run: an operation's reply, or a callback request."""
    return _decode(_REPLY, data, "reply")
