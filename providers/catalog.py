"""The model catalog shipped in assets/: capabilities, context, prices and notes providers do not report."""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from importlib import resources


@dataclass(frozen=True)
class CatalogEntry:
    match: str
    description: str = ""
    capabilities: frozenset[str] = frozenset()
    context_length: int | None = None
    cost_in_per_1k: float = 0.0
    cost_out_per_1k: float = 0.0
    tags: tuple[str, ...] = ()
    deprecated: bool = False


@dataclass(frozen=True)
class Catalog:
    entries: tuple[CatalogEntry, ...] = field(default_factory=tuple)

    def lookup(self, name: str) -> CatalogEntry | None:
        low = name.lower()
        for entry in self.entries:
            if fnmatch.fnmatchcase(low, entry.match.lower()):
                return entry
        return None

    @classmethod
    def from_toml(cls, text: str) -> Catalog:
        data = tomllib.loads(text)
        entries = []
        for raw in data.get("models", []):
            raw = dict(raw)
            raw["capabilities"] = frozenset(raw.get("capabilities", ()))
            raw["tags"] = tuple(raw.get("tags", ()))
            entries.append(CatalogEntry(**raw))
        return cls(tuple(entries))

    @classmethod
    def shipped(cls) -> Catalog:
        """The catalog inside the installed package (read through importlib.resources)."""
        text = resources.files("jarvis.assets").joinpath("catalog.toml").read_text(encoding="utf-8")
        return cls.from_toml(text)
