"""Token log probabilities for ``logprobs``/``top_logprobs`` (chat) and the Responses API's
``include: ["message.output_text.logprobs"]``, deterministic from each token and its position.

Tokens are the pieces the stub streams (a word with its leading space). The chosen token is
always the most likely; each alternative is a plausible spelling variant, less likely.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any


def _logprob(token: str, position: int, rank: int) -> float:
    digest = hashlib.sha256(f"{position}:{token}".encode()).digest()
    base = -digest[0] / 255 * 0.5  # the chosen token: between -0.5 and 0
    return round(base - rank * (0.75 + digest[1 + rank % 30] / 255), 6)


def _alternatives(token: str) -> list[str]:
    word = token.strip()
    lead = token[: len(token) - len(token.lstrip())]
    forms = [word.lower(), word.capitalize(), word.upper(), word + "s", word[:-1] or "a", word + ".", "the", ","]
    seen = {token}
    found = []
    for form in forms + [f"<alt{i}>" for i in range(20)]:
        candidate = lead + form
        if candidate not in seen:
            seen.add(candidate)
            found.append(candidate)
    return found


def _entry(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode())}


def token_logprobs(tokens: Sequence[str], top: int, start: int = 0) -> list[dict[str, Any]]:
    """One entry per token (``start`` is the first one's position) with ``top`` alternatives,
    the token itself first."""
    entries = []
    for position, token in enumerate(tokens, start):
        chosen = _logprob(token, position, 0)
        others = _alternatives(token)[: max(top - 1, 0)]
        ranked = [_entry(token, chosen)] if top else []
        ranked += [_entry(alt, _logprob(alt, position, rank)) for rank, alt in enumerate(others, 1)]
        entries.append({**_entry(token, chosen), "top_logprobs": ranked})
    return entries


def chat_logprobs(tokens: Sequence[str], top: int) -> dict[str, Any]:
    """A chat choice's (or chunk's) ``logprobs`` object."""
    return {"content": token_logprobs(tokens, top), "refusal": None}


def delta_logprobs(entries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries as the Responses API's text events carry them: no ``bytes``."""
    return [
        {
            "token": e["token"],
            "logprob": e["logprob"],
            "top_logprobs": [{"token": t["token"], "logprob": t["logprob"]} for t in e["top_logprobs"]],
        }
        for e in entries
    ]
