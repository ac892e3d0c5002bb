"""BFCL (Berkeley Function Calling Leaderboard) function documents from ``datasets/bfcl/``.

``items()`` pairs each document with its ground-truth call; ``function_from_doc`` builds a typed,
documented Python function from a document, so schema generators can be tested on hundreds of
real signatures. See ``datasets/bfcl/SOURCE.md`` for origin and licence (Apache-2.0).
"""

from __future__ import annotations

import inspect
import json
import keyword
import operator
from collections.abc import Callable
from functools import cache, reduce
from pathlib import Path
from typing import Any, Literal, Optional

DATA_DIR = Path(__file__).resolve().parents[2] / "datasets" / "bfcl"
SIMPLE = "BFCL_v4_simple_python.json"
SCALARS: dict[str, type] = {"string": str, "integer": int, "float": float, "boolean": bool}
BFCL_JSON_TYPES = {"dict": "object", "float": "number", "tuple": "array", "any": "string"}
"""BFCL's type names that JSON Schema spells otherwise (``any`` becomes ``string``, as BFCL does for
OpenAI models)."""


def _lines(path: Path) -> list[dict]:
    if not path.is_file():
        raise FileNotFoundError(f"BFCL file not found: {path} (the kit expects datasets/bfcl/ of a source "
                                "checkout; see datasets/bfcl/SOURCE.md)")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@cache
def items() -> tuple[dict, ...]:
    """``{"id", "question", "doc", "ground_truth"}`` for every Simple (Python) item, in file order."""
    answers = {a["id"]: a["ground_truth"][0] for a in _lines(DATA_DIR / "possible_answer" / SIMPLE)}
    return tuple({"id": item["id"], "question": item["question"][0][0]["content"],
                  "doc": item["function"][0], "ground_truth": answers[item["id"]]}
                 for item in _lines(DATA_DIR / SIMPLE))


def python_name(name: str) -> str:
    """BFCL names may hold dots (``math.factorial``); tool and Python names may not."""
    return name.replace(".", "_")


def annotation(spec: dict) -> Any:
    """The Python type of a BFCL parameter, or None when it has none (``dict``, ``tuple``, ``any``).

    A list of types, JSON Schema's union (BFCL's documents have none), is their union:
    ``{"type": ["integer", "string", "null"]}`` is ``int | str | None``.
    """
    kind = spec.get("type")
    if isinstance(kind, list):
        members = [type(None) if member == "null" else annotation({"type": member}) for member in kind]
        return reduce(operator.or_, members) if members and None not in members else None
    if spec.get("enum") and kind == "string":
        return Literal[tuple(spec["enum"])]
    if kind in SCALARS:
        return SCALARS[kind]
    if kind == "array":
        inner = annotation(spec.get("items") or {})
        return list[inner] if inner is not None else None
    return None


def supported(doc: dict) -> bool:
    """True if every parameter has a Python name and a type ``function_from_doc`` can write."""
    return all(annotation(spec) is not None and name.isidentifier() and not keyword.iskeyword(name)
               for name, spec in doc["parameters"].get("properties", {}).items())


def function_from_doc(doc: dict) -> Callable[..., Any]:
    """A function with *doc*'s name, typed parameters (optional ones default to None) and a
    Google-style docstring; calling it returns its arguments."""
    if not supported(doc):
        raise ValueError(f"{doc['name']}: only string, integer, float, boolean, enum and array parameters "
                         "can be written as Python types")
    properties = doc["parameters"].get("properties", {})
    required = set(doc["parameters"].get("required", []))
    parameters, annotations, lines = [], {}, []
    for name, spec in properties.items():
        kind = annotation(spec)
        if name in required:
            parameters.append(inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=kind))
        else:
            kind = Optional[kind]  # noqa: UP045 (an object, not an annotation: works for Literal too)
            parameters.append(inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                                                annotation=kind))
        annotations[name] = kind
        lines.append(f"    {name}: {' '.join(str(spec.get('description', '')).split())}")
    parameters.sort(key=lambda p: p.default is not inspect.Parameter.empty)

    def function(*args: Any, **kwargs: Any) -> dict:
        return dict(signature.bind(*args, **kwargs).arguments)

    signature = inspect.Signature(parameters)
    function.__signature__ = signature  # type: ignore[attr-defined]
    function.__annotations__ = annotations
    function.__name__ = function.__qualname__ = python_name(doc["name"])
    description = " ".join(str(doc.get("description", "")).split())
    function.__doc__ = description + ("\n\nArgs:\n" + "\n".join(lines) if lines else "")
    return function
