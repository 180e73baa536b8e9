"""LM Studio's lifecycle: loaded state from its REST API; load and unload where that API offers them.

LM Studio 0.4 added `/api/v1/models` (with `loaded_instances`), `POST /api/v1/models/load` and
`POST /api/v1/models/unload {instance_id}`. Older builds have only `/api/v0/models` (state and context,
no memory size) and no load or unload: there the action says so and names the `lms` command.
Deleting and pulling are not in its REST API at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from .errors import ModelNotFound
from .lifecycle import LoadedNow, NotOffered, PullProgress
from .lmstudio import LMStudioProvider


class LMStudioLifecycle:
    def __init__(self, provider: LMStudioProvider) -> None:
        self.provider = provider

    @property
    def where(self) -> str:
        return f"{self.provider.name} at {self.provider.base_url}"

    async def _v1_models(self) -> list[dict[str, Any]] | None:
        """/api/v1/models' list, or None on a build without the v1 API."""
        try:
            data = await self.provider.get_json("/api/v1/models")
        except ModelNotFound:
            return None
        models = data.get("models") if isinstance(data, dict) else None
        return models if isinstance(models, list) else None

    def _not_offered(self, action: str, name: str, command: str) -> NotOffered:
        return NotOffered(
            f"{self.where} does not offer {action} through its REST API (LM Studio 0.4 or later does).",
            hint=f"Do it in LM Studio's window, or run: {command}",
            command=command,
            provider=self.provider.name,
            model=name,
        )

    async def loaded(self) -> list[LoadedNow]:
        models = await self._v1_models()
        if models is not None:
            out = []
            for m in models:
                for inst in m.get("loaded_instances") or ():
                    config = inst.get("config") or {}
                    out.append(
                        LoadedNow(
                            provider=self.provider.name,
                            name=str(m.get("key", "")),
                            host=self.provider.base_url,
                            size_bytes=int(m.get("size_bytes") or 0),
                            context_length=config.get("context_length"),
                            instance_id=str(inst.get("id", "")) or None,
                        )
                    )
            return out
        data = await self.provider.get_json("/api/v0/models")
        return [
            LoadedNow(
                provider=self.provider.name,
                name=str(item.get("id", "")),
                host=self.provider.base_url,
                # /api/v0 says nothing of memory; the listing's file size is not known here either.
                size_bytes=0,
                context_length=item.get("max_context_length"),
            )
            for item in (data.get("data") or [] if isinstance(data, dict) else [])
            if item.get("state") == "loaded"
        ]

    async def load(self, name: str, *, keep_alive: str | None, num_ctx: int | None) -> str:
        models = await self._v1_models()
        if models is None:
            raise self._not_offered("loading", name, f"lms load {name}")
        entry = next((m for m in models if m.get("key") == name), None)
        if entry is None:
            raise ModelNotFound(f"{self.where} has no model called {name}.", provider=self.provider.name)
        if entry.get("loaded_instances"):
            # A second load would load a second copy of the same model.
            return f"{name} is already loaded on {self.where}."
        body: dict[str, Any] = {"model": name}
        if num_ctx:
            body["context_length"] = num_ctx
        await self.provider.post_json("/api/v1/models/load", body, name)
        return f"Loaded {name} on {self.where}."

    async def unload(self, name: str) -> str:
        models = await self._v1_models()
        if models is None:
            raise self._not_offered("unloading", name, f"lms unload {name}")
        entry = next((m for m in models if m.get("key") == name), None)
        instances = [str(i.get("id")) for i in (entry or {}).get("loaded_instances") or () if i.get("id")]
        if not instances:
            return f"{name} is not loaded on {self.where}."
        for instance in instances:
            await self.provider.post_json("/api/v1/models/unload", {"instance_id": instance}, name)
        return f"Unloaded {name} on {self.where}."

    async def delete(self, name: str) -> str:
        raise NotOffered(
            f"{self.where} cannot delete models through its REST API.",
            hint="Delete it in LM Studio's My Models tab.",
            provider=self.provider.name,
            model=name,
        )

    async def copy(self, name: str, destination: str) -> str:
        raise NotOffered(f"{self.where} has no copy or tag action.", provider=self.provider.name, model=name)

    async def pull(self, name: str) -> AsyncIterator[PullProgress]:
        raise self._not_offered("pulling", name, f"lms get {name}")
        yield  # pragma: no cover - makes this an async generator like the others
