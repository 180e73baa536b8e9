"""Model registry: discovers every provider's models concurrently.

They are merged with the catalog and the user's own entries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from .base import Provider
from .catalog import Catalog
from .errors import ModelNotFound, ProviderError
from .resources import ResourceGuard
from .types import ModelInfo

Status = Literal["available", "unavailable", "deprecated"]


@dataclass(frozen=True)
class CustomModel:
    """A model the user registers: extra facts for a discovered one, or one to expect."""

    id: str
    capabilities: frozenset[str] = frozenset()
    context_length: int | None = None
    cost_in_per_1k: float | None = None
    cost_out_per_1k: float | None = None
    tags: tuple[str, ...] = ()
    description: str = ""


@dataclass
class ModelEntry:
    info: ModelInfo
    provider_kind: str
    status: Status
    capabilities: frozenset[str]
    context_length: int | None
    fits_memory: bool | None
    memory_needed: int
    memory_note: str
    cost_in_per_1k: float = 0.0
    cost_out_per_1k: float = 0.0
    tags: tuple[str, ...] = ()
    description: str = ""
    source: str = "discovered"

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def provider(self) -> str:
        return self.info.provider

    @property
    def name(self) -> str:
        return self.info.name

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "provider": self.provider,
            "provider_kind": self.provider_kind,
            "name": self.name,
            "context_length": self.context_length,
            "size_bytes": self.info.size_bytes,
            "capabilities": sorted(self.capabilities),
            "fits_memory": self.fits_memory,
            "memory_needed_bytes": self.memory_needed,
            "memory_note": self.memory_note,
            "status": self.status,
            "loaded": self.info.loaded,
            "local": self.info.local,
            "family": self.info.family,
            "parameter_size": self.info.parameter_size,
            "quantization": self.info.quantization,
            "cost_in_per_1k": self.cost_in_per_1k,
            "cost_out_per_1k": self.cost_out_per_1k,
            "tags": list(self.tags),
            "description": self.description,
            "source": self.source,
        }


@dataclass(frozen=True)
class Unreachable:
    provider: str
    address: str
    reason: str
    #: How to make it reachable (start the server, fix the URL).
    hint: str = ""

    def as_json(self) -> dict[str, str]:
        return {"provider": self.provider, "address": self.address, "reason": self.reason, "hint": self.hint}


@dataclass
class Discovery:
    models: list[ModelEntry] = field(default_factory=list)
    unreachable: list[Unreachable] = field(default_factory=list)
    #: Sentences about single models that could not be read (e.g. a bad GGUF path).
    notices: list[str] = field(default_factory=list)


def _listing_order(e: ModelEntry) -> tuple[bool, str, str]:
    # Available first, then by provider and name: ties in selection keep this order.
    return (e.status != "available", e.provider, e.name)


class ModelRegistry:
    """Holds the latest discovery; ``refresh()`` asks every provider at once.

    Each provider gets ``timeout`` seconds: one slow or dead host never delays
    the others beyond it.
    """

    def __init__(
        self,
        providers: Sequence[Provider],
        *,
        catalog: Catalog | None = None,
        guard: ResourceGuard | None = None,
        custom: Sequence[CustomModel] = (),
        timeout: float = 2.0,
        default_num_ctx: int = 4096,
    ) -> None:
        self.providers = {p.name: p for p in providers}
        self.catalog = catalog or Catalog()
        self.guard = guard or ResourceGuard()
        self.custom = {c.id: c for c in custom}
        self.timeout = timeout
        self.default_num_ctx = default_num_ctx
        self.discovery = Discovery()
        self._by_id: dict[str, ModelEntry] = {}
        #: Goes up by one whenever the model list changes; caches built from the list compare it.
        #: So change the list through refresh() or add_model(), never in place.
        self.generation = 0

    def add_provider(self, provider: Provider) -> None:
        """Add (or replace, by name) a provider; its models are listed from the next ``refresh()``."""
        self.providers[provider.name] = provider

    def add_model(self, entry: ModelEntry) -> None:
        """Add (or replace, by id) one model by hand, e.g. one on a server that cannot list it now.

        It stays until the next ``refresh()``, which lists what the servers say; a model that must
        survive refreshes is a ``CustomModel``.
        """
        models = [m for m in self.discovery.models if m.id != entry.id] + [entry]
        models.sort(key=_listing_order)
        self._publish(Discovery(models, self.discovery.unreachable, self.discovery.notices))

    def _publish(self, discovery: Discovery) -> None:
        self.discovery = discovery
        self._by_id = {e.id: e for e in discovery.models}
        self.generation += 1

    async def _ask(self, provider: Provider) -> list[ModelInfo] | Unreachable:
        hint = getattr(provider, "start_hint", "")
        try:
            return await asyncio.wait_for(provider.list_models(), self.timeout)
        except TimeoutError:
            return Unreachable(provider.name, provider.address, f"No answer within {self.timeout:g} s.", hint)
        except ProviderError as err:
            return Unreachable(provider.name, provider.address, err.message, err.hint or hint)
        except Exception as err:  # a provider bug must not take the listing down
            return Unreachable(provider.name, provider.address, f"{type(err).__name__}: {err}", hint)

    async def refresh(self) -> Discovery:
        providers = list(self.providers.values())
        results = await asyncio.gather(*(self._ask(p) for p in providers))
        discovery = Discovery()
        seen: set[str] = set()
        for provider, result in zip(providers, results, strict=True):
            if isinstance(result, Unreachable):
                discovery.unreachable.append(result)
                continue
            for info in result:
                discovery.models.append(self._entry(info, provider.kind, "available"))
                seen.add(info.id)
            broken = getattr(provider, "broken_models", None)
            if broken:
                discovery.notices.extend(sentence for _, sentence in broken())
        for custom in self.custom.values():
            if custom.id in seen:
                continue
            prov_name, _, model_name = custom.id.partition("/")
            kind = self.providers[prov_name].kind if prov_name in self.providers else "unknown"
            info = ModelInfo(provider=prov_name, name=model_name, local=kind in ("embedded",))
            discovery.models.append(self._entry(info, kind, "unavailable", source="custom"))
        discovery.models.sort(key=_listing_order)
        self._publish(discovery)
        return discovery

    def _entry(self, info: ModelInfo, kind: str, status: Status, source: str = "discovered") -> ModelEntry:
        cat = self.catalog.lookup(info.name)
        custom = self.custom.get(info.id)
        caps = set(info.capabilities)
        context = info.context_length
        cost_in = cost_out = 0.0
        tags: tuple[str, ...] = ()
        description = ""
        if cat is not None:
            caps |= cat.capabilities
            context = context or cat.context_length
            if kind == "cloud":
                cost_in, cost_out = cat.cost_in_per_1k, cat.cost_out_per_1k
            tags, description = cat.tags, cat.description
            if cat.deprecated and status == "available":
                status = "deprecated"
        if custom is not None:
            caps |= custom.capabilities
            context = custom.context_length or context
            cost_in = custom.cost_in_per_1k if custom.cost_in_per_1k is not None else cost_in
            cost_out = custom.cost_out_per_1k if custom.cost_out_per_1k is not None else cost_out
            tags = tuple(dict.fromkeys(tags + custom.tags))
            description = custom.description or description
            source = "custom" if source == "custom" else "discovered+custom"
        info.context_length = context
        n_ctx = min(self.default_num_ctx, context) if context else self.default_num_ctx
        if status == "unavailable":
            admission_fits, needed, note = None, 0, "not reachable now"
        else:
            admission = self.guard.check_memory(info, n_ctx)
            admission_fits, needed, note = admission.fits, admission.needed, admission.sentence
        return ModelEntry(
            info=info,
            provider_kind=kind,
            status=status,
            capabilities=frozenset(caps),
            context_length=context,
            fits_memory=admission_fits,
            memory_needed=needed,
            memory_note=note,
            cost_in_per_1k=cost_in,
            cost_out_per_1k=cost_out,
            tags=tags,
            description=description,
            source=source,
        )

    @property
    def models(self) -> list[ModelEntry]:
        return self.discovery.models

    def lookup(self, model_id: str) -> ModelEntry | None:
        """The entry for an id, or None: for hot paths that must not raise."""
        return self._by_id.get(model_id)

    def get(self, model_id: str) -> ModelEntry:
        entry = self._by_id.get(model_id)
        if entry is None:
            near = [e.id for e in self.models if model_id.split("/")[-1] in e.id][:3]
            if near:
                suggestion = f" Did you mean {', '.join(near)}?"
            else:
                suggestion = " Run `jarvis models` to see what there is."
            prov = model_id.split("/", 1)[0]
            down = next((u for u in self.discovery.unreachable if u.provider == prov), None)
            if down is not None:
                suggestion = f" {down.reason} {down.hint}".rstrip()
            raise ModelNotFound(f"No model '{model_id}' is known.{suggestion}", model=model_id)
        return entry

    def provider_for(self, model_id: str) -> tuple[Provider, str]:
        """The provider object and the provider-side model name for an id like ``ollama/qwen2.5-coder:7b``."""
        prov, _, name = model_id.partition("/")
        if prov not in self.providers or not name:
            known = ", ".join(sorted(self.providers))
            raise ModelNotFound(
                f"'{model_id}' names no configured provider (configured: {known}).", model=model_id
            )
        return self.providers[prov], name

    async def close(self) -> None:
        await asyncio.gather(*(p.close() for p in self.providers.values()), return_exceptions=True)
