"""The plain-data boundary: exact built-in types cross, everything else stays behind a handle."""

import math

import numpy as np
import pytest

from grader.engine import codec


class AlwaysEqual:
    def __eq__(self, other):
        return True


class SneakyInt(int):
    def __eq__(self, other):
        return True


def roundtrip(value):
    kept = []
    encoded = codec.encode(value, lambda obj: kept.append(obj) or len(kept))
    return codec.decode(encoded, lambda marker: ("handle", marker["$handle"], marker["type"])), kept


@pytest.mark.parametrize("value", [
    None, True, 0, -7, 2.5, "text", b"\x00\xff", [1, [2, "x"]], (1, (2,)), {"a": 1, 2: [3]},
    {1, 2}, frozenset({"x"}),
])
def test_plain_data_roundtrips_exactly(value):
    decoded, kept = roundtrip(value)
    assert decoded == value
    assert type(decoded) is (set if type(value) is frozenset else type(value))
    assert kept == []


def test_special_floats_and_numpy():
    decoded, _ = roundtrip([math.inf, -math.inf])
    assert decoded == [math.inf, -math.inf]
    assert math.isnan(roundtrip(math.nan)[0])
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    back, _ = roundtrip(array)
    assert back.dtype == np.float32 and back.shape == (2, 3) and (back == array).all()
    scalar, _ = roundtrip(np.int64(5))
    assert scalar == 5 and type(scalar) is np.int64


@pytest.mark.parametrize("value", [AlwaysEqual(), SneakyInt(3), np.array([object()], dtype=object)])
def test_objects_that_could_fake_equality_become_handles(value):
    decoded, kept = roundtrip(value)
    assert decoded[0] == "handle" and kept == [value]
    assert decoded != 3


class SneakyFloat(float):
    def __eq__(self, other):
        return True


@pytest.mark.parametrize("odd", [math.nan, math.inf, SneakyFloat(1.0), 2**5000, True, "x"],
                         ids=["nan", "inf", "float-subclass", "huge-int", "bool", "str"])
@pytest.mark.parametrize("container", [list, tuple])
def test_one_odd_item_in_a_long_vector_is_encoded_as_it_would_be_alone(odd, container):
    """Vectors of plain numbers skip the item-by-item walk; one item that needs it must still get it."""
    value = container([0.5] * 300 + [odd] + list(range(300)))
    encoded = codec.encode(value, lambda obj: 1)
    items = encoded if container is list else encoded["$tuple"]
    assert items[:300] == [0.5] * 300 and items[301:] == list(range(300))
    assert items[300] == codec.encode(odd, lambda obj: 1)
    decoded, _ = roundtrip(value)
    assert type(decoded) is container and len(decoded) == 601


def test_a_vector_counts_against_the_item_budget():
    decoded, kept = roundtrip([[1.0] * (codec.MAX_ITEMS // 2), [2.0] * (codec.MAX_ITEMS // 2 + 1)])
    assert decoded[0] == [1.0] * (codec.MAX_ITEMS // 2)
    assert decoded[1][0] == "handle" and len(kept) == 1


def test_only_the_checks_objects_become_wire_markers():
    class Stand:
        """A check-side object standing for something on the learner's side."""

    def refuse(obj):
        raise TypeError("no objects")

    def marker(obj):
        return {"$handle": 1} if type(obj) is Stand else None

    with pytest.raises(TypeError):
        codec.encode(Stand(), refuse)  # without a marker function it is just an object
    assert codec.encode({"k": (Stand(), [Stand()])}, refuse, marker=marker) == {
        "$dict": [["k", {"$tuple": [{"$handle": 1}, [{"$handle": 1}]]}]]}
    assert codec.encode([{"$handle": 1}], lambda obj: 0, marker=marker) == [{"$dict": [["$handle", 1]]}], (
        "a dict that looks like a marker is data, not a marker")
    with pytest.raises(TypeError):
        codec.encode(object(), refuse, marker=marker)


def test_recursive_structures_are_cut_off():
    value = []
    value.append(value)
    decoded, _ = roundtrip(value)
    depth = 0
    while isinstance(decoded, list):
        decoded, depth = decoded[0], depth + 1
    assert decoded[0] == "handle" and depth == codec.MAX_DEPTH + 1


def test_exception_description_is_data():
    try:
        raise KeyError("missing")
    except KeyError as error:
        described = codec.describe_exception(error)
    assert described["type"] == "KeyError"
    assert "builtins.LookupError" in described["mro"]
    assert described["message"] == "'missing'"


def test_a_marker_is_recognised_whatever_the_order_of_its_keys():
    resolved = []
    assert codec.decode({"type": "Foo", "repr": "<Foo>", "$handle": 3}, resolved.append) is None
    assert resolved == [{"type": "Foo", "repr": "<Foo>", "$handle": 3}]
    with pytest.raises(ValueError, match="unknown encoded value"):
        codec.decode({"type": "Foo"}, resolved.append)
