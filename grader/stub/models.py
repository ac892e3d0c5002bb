"""The model ids the stub knows, with what each can do, as ``GET /v1/models`` lists them.

Aliases resolve to a dated snapshot in responses, as the real API does (``gpt-4o-mini`` answers
as ``gpt-4o-mini-2024-07-18``); an id not listed here is a 404, never a silent fallback.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.stub.errors import APIError, model_not_found


@dataclass(frozen=True)
class ModelInfo:
    id: str
    kind: str  # "chat" or "embedding"
    created: int
    owned_by: str = "system"
    snapshot: str | None = None  # what responses report for an alias
    dimensions: int = 0  # native embedding size

    def to_dict(self) -> dict:
        return {"id": self.id, "object": "model", "created": self.created, "owned_by": self.owned_by}


_CHAT = {
    "gpt-4o-mini": ("gpt-4o-mini-2024-07-18", 1721172741),
    "gpt-4o": ("gpt-4o-2024-08-06", 1715367049),
    "gpt-4.1-mini": ("gpt-4.1-mini-2025-04-14", 1744318173),
    "gpt-4.1-nano": ("gpt-4.1-nano-2025-04-14", 1744321707),
    "gpt-4.1": ("gpt-4.1-2025-04-14", 1744316542),
    "o4-mini": ("o4-mini-2025-04-16", 1744225351),
    "gpt-5-mini": ("gpt-5-mini-2025-08-07", 1754425867),
}
_EMBEDDING = {
    "text-embedding-3-small": (1536, 1705948997),
    "text-embedding-3-large": (3072, 1705953180),
    "text-embedding-ada-002": (1536, 1671217299),
}


def _catalogue() -> dict[str, ModelInfo]:
    models: dict[str, ModelInfo] = {}
    for alias, (snapshot, created) in _CHAT.items():
        models[alias] = ModelInfo(alias, "chat", created, snapshot=snapshot)
        models[snapshot] = ModelInfo(snapshot, "chat", created, snapshot=snapshot)
    for name, (dims, created) in _EMBEDDING.items():
        models[name] = ModelInfo(name, "embedding", created, owned_by="system", dimensions=dims)
    return models


MODELS: dict[str, ModelInfo] = _catalogue()


def lookup(model: str) -> ModelInfo:
    """The model, or the real API's 404 for an id it does not serve."""
    try:
        return MODELS[model]
    except KeyError:
        raise model_not_found(model) from None


def require_kind(model: str, kind: str, endpoint: str) -> ModelInfo:
    """The model if it serves ``endpoint``; the real API answers 404 for, e.g., chat with an embedder."""
    info = lookup(model)
    if info.kind != kind:
        raise APIError(
            404,
            f"This is not {'an' if kind[0] in 'aeiou' else 'a'} {kind} model and thus not supported in the "
            f"{endpoint} endpoint.",
            param="model",
        )
    return info


def list_models() -> dict:
    return {"object": "list", "data": [m.to_dict() for m in MODELS.values()]}
