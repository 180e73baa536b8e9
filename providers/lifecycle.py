"""Local model lifecycle across providers: pull, load, unload, what is loaded now, delete, copy.

One ``ModelLifecycle`` per registry; each provider kind has its backend (lifecycle_ollama.py,
lifecycle_lmstudio.py, lifecycle_embedded.py). Every answer names the host it acted on, because a
user with two Ollama machines must never wonder which one lost a model.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from .base import Provider
from .errors import ModelNotFound, ProviderError
from .memory_fit import FitReport, LoadedModel, check_fit
from .registry import ModelRegistry


class NotOffered(ProviderError):
    """The backend has no API for this action; the sentence says how to do it by hand."""

    kind = "not_offered"

    def __init__(self, message: str, *, command: str = "", **kw: str) -> None:
        #: The command that does it by hand (e.g. ``lms unload qwen2.5-7b-instruct``), if there is one.
        self.command = command
        super().__init__(message, **kw)


@dataclass(frozen=True)
class PullProgress:
    """One line of a pull's progress, as Ollama streams it."""

    model: str
    host: str
    status: str
    digest: str | None = None
    total: int | None = None
    completed: int | None = None

    @property
    def percent(self) -> float | None:
        return 100.0 * (self.completed or 0) / self.total if self.total else None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "host": self.host, "status": self.status}
        for key in ("digest", "total", "completed"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.percent is not None:
            out["percent"] = round(self.percent, 1)
        return out


@dataclass(frozen=True)
class LoadedNow:
    """A model holding memory now."""

    provider: str
    name: str
    host: str
    size_bytes: int = 0
    #: The part on the GPU (Ollama's size_vram); None where the backend does not say.
    size_vram: int | None = None
    expires_at: datetime | None = None
    context_length: int | None = None
    pinned: bool = False
    #: LM Studio's instance id (what its unload endpoint takes).
    instance_id: str | None = None

    @property
    def id(self) -> str:
        return f"{self.provider}/{self.name}"

    def as_memory(self) -> LoadedModel:
        return LoadedModel(self.id, self.size_bytes, self.pinned)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "host": self.host,
            "size_bytes": self.size_bytes,
            "size_vram": self.size_vram,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "context_length": self.context_length,
            "pinned": self.pinned,
        }


@dataclass(frozen=True)
class ActionResult:
    """What a load, unload, delete or copy did, in one sentence."""

    action: str
    model_id: str
    host: str
    sentence: str
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "model": self.model_id,
            "host": self.host,
            "sentence": self.sentence,
            **self.extra,
        }


class Backend(Protocol):
    """What one provider kind can do; a missing action raises NotOffered with a sentence."""

    async def loaded(self) -> list[LoadedNow]: ...
    async def load(self, name: str, *, keep_alive: str | None, num_ctx: int | None) -> str: ...
    async def unload(self, name: str) -> str: ...
    async def delete(self, name: str) -> str: ...
    async def copy(self, name: str, destination: str) -> str: ...
    def pull(self, name: str) -> AsyncIterator[PullProgress]: ...


def backend_for(provider: Provider) -> Backend | None:
    """The lifecycle backend of a provider, or None for one that runs elsewhere (cloud, plain OpenAI)."""
    # Imported here: each backend module imports its provider, and the cloud one is never needed.
    if provider.kind == "ollama":
        from .lifecycle_ollama import OllamaLifecycle

        return OllamaLifecycle(provider)  # type: ignore[arg-type]
    if provider.kind == "lmstudio":
        from .lifecycle_lmstudio import LMStudioLifecycle

        return LMStudioLifecycle(provider)  # type: ignore[arg-type]
    if provider.kind == "embedded":
        from .lifecycle_embedded import EmbeddedLifecycle

        return EmbeddedLifecycle(provider)  # type: ignore[arg-type]
    return None


def host_label(provider: Provider) -> str:
    return f"{provider.name} at {provider.address}" if provider.address else provider.name


class ModelLifecycle:
    """Lifecycle actions on the registry's providers.

    ``pinned``: model ids never unloaded to make room (a sequential comparison or an eval leaves them
    loaded). ``keep_alive``: per-model Ollama keep_alive ("1h", "-1") used when loading ahead of use.
    """

    def __init__(
        self,
        registry: ModelRegistry,
        *,
        pinned: Iterable[str] = (),
        keep_alive: Mapping[str, str] | None = None,
        num_ctx: int | None = None,
    ) -> None:
        self.registry = registry
        self.pinned = frozenset(pinned)
        self.keep_alive = dict(keep_alive or {})
        self.num_ctx = num_ctx
        self._backends: dict[str, Backend | None] = {}

    # -- finding things --------------------------------------------------
    def backend(self, provider: Provider) -> Backend | None:
        if provider.name not in self._backends:
            self._backends[provider.name] = backend_for(provider)
        return self._backends[provider.name]

    def split(self, model_id: str) -> tuple[Provider, Backend, str]:
        """(provider, backend, model name) for an id such as ``ollama/qwen2.5-coder:7b``."""
        prefix, sep, name = model_id.partition("/")
        provider = self.registry.providers.get(prefix) if sep else None
        if provider is None or not name:
            known = ", ".join(sorted(self.registry.providers)) or "none configured"
            raise ModelNotFound(
                f"'{model_id}' does not name a model of a configured provider (provider/name;"
                f" providers: {known})."
            )
        backend = self.backend(provider)
        if backend is None:
            raise NotOffered(
                f"{provider.name} runs its models elsewhere; there is nothing to load or unload here.",
                provider=provider.name,
                model=name,
            )
        return provider, backend, name

    def ollama_host(self, host: str | None) -> Provider:
        """The Ollama provider named (by provider name or URL) by ``host``; the first one by default."""
        hosts = [p for p in self.registry.providers.values() if p.kind == "ollama"]
        if not hosts:
            raise NotOffered(
                "No Ollama host is configured, so there is nowhere to pull to.",
                hint="Enable [ollama] in your config or set OLLAMA_HOST.",
            )
        if host is None:
            return hosts[0]
        for p in hosts:
            if host in (p.name, p.address, p.address.removeprefix("http://")):
                return p
        names = ", ".join(f"{p.name} ({p.address})" for p in hosts)
        raise ModelNotFound(f"No Ollama host is called '{host}'; the configured ones are {names}.")

    # -- reading ---------------------------------------------------------
    async def loaded(self) -> tuple[list[LoadedNow], list[str]]:
        """Every model loaded now on every local backend, and a sentence for each backend that did not
        answer."""
        pairs = [(p, b) for p in self.registry.providers.values() if (b := self.backend(p)) is not None]
        providers = [p for p, _ in pairs]
        answers = await asyncio.gather(*(b.loaded() for _, b in pairs), return_exceptions=True)
        out: list[LoadedNow] = []
        problems: list[str] = []
        for provider, answer in zip(providers, answers, strict=True):
            if isinstance(answer, ProviderError):
                problems.append(f"{host_label(provider)}: {answer}")
            elif isinstance(answer, BaseException):
                raise answer
            else:
                out += [
                    m if m.pinned == (m.id in self.pinned) else _with_pin(m, m.id in self.pinned)
                    for m in answer
                ]
        self._learn_sizes(out)
        return out, problems

    def _learn_sizes(self, loaded: list[LoadedNow]) -> None:
        """Ollama's /api/ps sizes are the truth for its models: the guard keeps them and learns from them."""
        for m in loaded:
            entry = self.registry.lookup(m.id)
            provider = self.registry.providers.get(m.provider)
            if entry is not None and m.size_bytes and getattr(provider, "kind", "") == "ollama":
                n_ctx = m.context_length or self.num_ctx or 4096
                self.registry.guard.observe(entry.info, n_ctx, m.size_bytes)

    async def fit(self, model_id: str, *, size_bytes: int | None = None) -> FitReport | None:
        """Will the model fit beside what is loaded now (in numbers)? None when the registry does not
        know the model and no size was given."""
        from .types import ModelInfo

        entry = self.registry.lookup(model_id)
        if entry is not None:
            info = entry.info
        elif size_bytes:
            provider, _, name = model_id.partition("/")
            info = ModelInfo(provider=provider, name=name, size_bytes=size_bytes)
        else:
            return None
        loaded, _ = await self.loaded()
        n_ctx = self.num_ctx or 4096
        if any(m.id == model_id for m in loaded):
            return check_fit(self.registry.guard, _loaded_info(info), n_ctx, [m.as_memory() for m in loaded])
        return check_fit(self.registry.guard, _unloaded_info(info), n_ctx, [m.as_memory() for m in loaded])

    # -- acting ----------------------------------------------------------
    def pull(self, name: str, host: str | None = None) -> tuple[Provider, AsyncIterator[PullProgress]]:
        """The host a pull goes to, and its progress; cancelling the iteration cancels the pull."""
        provider = self.ollama_host(host)
        backend = self.backend(provider)
        assert backend is not None
        return provider, backend.pull(name.removeprefix(provider.name + "/"))

    async def load(self, model_id: str) -> ActionResult:
        provider, backend, name = self.split(model_id)
        sentence = await backend.load(name, keep_alive=self.keep_alive.get(model_id), num_ctx=self.num_ctx)
        return ActionResult("load", model_id, host_label(provider), sentence)

    async def unload(self, model_id: str) -> ActionResult:
        provider, backend, name = self.split(model_id)
        sentence = await backend.unload(name)
        return ActionResult("unload", model_id, host_label(provider), sentence)

    async def delete(self, model_id: str) -> ActionResult:
        provider, backend, name = self.split(model_id)
        sentence = await backend.delete(name)
        return ActionResult("delete", model_id, host_label(provider), sentence)

    async def copy(self, model_id: str, destination: str) -> ActionResult:
        provider, backend, name = self.split(model_id)
        sentence = await backend.copy(name, destination.removeprefix(provider.name + "/"))
        return ActionResult("copy", model_id, host_label(provider), sentence, {"destination": destination})

    async def release(self, model_id: str) -> str | None:
        """Unload a model that has had its turn, unless pinned; the sentence to show, or None when
        nothing was done. Never raises: a model that stays loaded costs memory, not the run."""
        if model_id in self.pinned:
            return None
        try:
            _, backend, name = self.split(model_id)
        except ProviderError:
            return None
        try:
            return await backend.unload(name)
        except ProviderError as err:
            return f"Could not unload {model_id}: {err}"


def _with_pin(m: LoadedNow, pinned: bool) -> LoadedNow:
    from dataclasses import replace

    return replace(m, pinned=pinned)


def _loaded_info(info: Any) -> Any:
    from dataclasses import replace

    return replace(info, loaded=True)


def _unloaded_info(info: Any) -> Any:
    from dataclasses import replace

    # The listing's "loaded" may be stale; /api/ps just said it is not.
    return replace(info, loaded=False)
