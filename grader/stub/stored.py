"""Stored Responses: ``store`` (on by default), ``previous_response_id``, retrieve, delete and
input items, kept in memory per stub as the real API keeps them on its side.

A stored response remembers its whole conversation (the history it continued, its own input
items, its output items), so a request naming it as ``previous_response_id`` continues from
there. ``stub.reset()`` forgets everything.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Any

from grader.stub.conversation import stable_id
from grader.stub.errors import APIError, invalid


@dataclass(frozen=True)
class _Saved:
    response: dict
    input_items: list[dict]
    conversation: list[dict]  # history + input items + output items: what a follow-up continues


def input_items(body: dict, rid: str) -> list[dict]:
    """A request's ``input`` as stored items, each with an id (as ``input_items`` lists them)."""
    raw = body.get("input")
    items = [{"type": "message", "role": "user", "content": raw}] if isinstance(raw, str) else list(raw or [])
    stored = []
    for index, item in enumerate(items):
        item = dict(item)
        kind = item.setdefault("type", "message")
        if kind == "message":
            part = "output_text" if item.get("role") == "assistant" else "input_text"
            if isinstance(item.get("content"), str):
                item["content"] = [{"type": part, "text": item["content"]}]
            item.setdefault("status", "completed")
        prefix = {"message": "msg_", "function_call": "fc_", "function_call_output": "fco_"}.get(kind, "item_")
        item.setdefault("id", stable_id(prefix, rid, index))
        stored.append(item)
    return stored


def _not_found(rid: str) -> APIError:
    return APIError(404, f"Response with id '{rid}' not found.", param="response_id")


class ResponseStore:
    """Thread-safe map of response id to what was stored for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._saved: dict[str, _Saved] = {}

    def history(self, previous_id: Any) -> list[dict]:
        """The conversation a request continues: empty without ``previous_response_id``."""
        if previous_id is None:
            return []
        with self._lock:
            saved = self._saved.get(previous_id) if isinstance(previous_id, str) else None
        if saved is None:
            raise invalid(
                f"Previous response with id '{previous_id}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        return copy.deepcopy(saved.conversation)

    def save(self, response: dict, body: dict) -> None:
        """Keep ``response``, answered to ``body`` (whose previous response was read when it was parsed)."""
        items = input_items(body, response["id"])
        with self._lock:
            previous = self._saved.get(body.get("previous_response_id") or "")
            history = previous.conversation if previous else []
            conversation = copy.deepcopy([*history, *items, *response["output"]])
            self._saved[response["id"]] = _Saved(copy.deepcopy(response), items, conversation)

    def _get(self, rid: str) -> _Saved:
        with self._lock:
            saved = self._saved.get(rid)
        if saved is None:
            raise _not_found(rid)
        return saved

    def retrieve(self, rid: str) -> dict:
        return copy.deepcopy(self._get(rid).response)

    def delete(self, rid: str) -> dict:
        with self._lock:
            if self._saved.pop(rid, None) is None:
                raise _not_found(rid)
        return {"id": rid, "object": "response", "deleted": True}

    def input_items(self, rid: str) -> dict:
        """``GET /v1/responses/{id}/input_items``: one page, newest first (the API's default order)."""
        items = copy.deepcopy(self._get(rid).input_items)[::-1]
        return {
            "object": "list",
            "data": items,
            "first_id": items[0]["id"] if items else None,
            "last_id": items[-1]["id"] if items else None,
            "has_more": False,
        }

    def clear(self) -> None:
        with self._lock:
            self._saved.clear()
