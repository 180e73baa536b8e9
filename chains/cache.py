"""Exact-match response cache for deterministic requests (temperature 0 or a fixed seed)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from jarvis.providers.types import GenerationOptions, Message


def cache_key(model_id: str, messages: Sequence[Message], options: GenerationOptions) -> str | None:
    """None when the request is not deterministic and must not be cached."""
    if not options.is_deterministic():
        return None
    payload = json.dumps(
        [model_id, [m.as_dict() for m in messages], options.model_dump(mode="json")],
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()
