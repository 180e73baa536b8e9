"""Exact-match response cache for deterministic requests (temperature 0 or a fixed seed)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from jarvis.providers.types import GenerationOptions, Infill, Message


def cache_key(
    model_id: str, messages: Sequence[Message], options: GenerationOptions, infill: Infill | None = None
) -> str | None:
    """None when the request is not deterministic and must not be cached. A fill-in-the-middle request
    keys on its prefix and suffix, never colliding with a chat."""
    if not options.is_deterministic():
        return None
    parts: list[Any] = [model_id, [m.as_dict() for m in messages], options.model_dump(mode="json")]
    if infill is not None:
        parts.append({"fim": [infill.prompt, infill.suffix]})
    payload = json.dumps(
        parts,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()
