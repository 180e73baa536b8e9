"""Per-model details (Ollama's /api/show) kept between runs, keyed by digest, so listing many models
stays fast."""

from __future__ import annotations

import json
import os
from pathlib import Path

from jarvis.providers.base import Provider
from jarvis.providers.ollama import OllamaProvider


def load_into(providers: list[Provider], path: Path) -> None:
    """Seed each Ollama provider's cache; a missing or unreadable file just means an empty cache."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    for p in providers:
        if isinstance(p, OllamaProvider) and isinstance(data.get(p.address), dict):
            p.show_cache.update(
                {k: tuple(v) for k, v in data[p.address].items() if isinstance(v, list) and len(v) == 2}
            )


def save_from(providers: list[Provider], path: Path) -> None:
    data = {p.address: p.show_cache for p in providers if isinstance(p, OllamaProvider) and p.show_cache}
    if not data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)  # atomic: a killed process never leaves half a file
