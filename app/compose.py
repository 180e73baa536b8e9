"""Composition root: builds providers, the resource guard and the registry from the user's config."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from jarvis.providers.base import Provider
from jarvis.providers.catalog import Catalog
from jarvis.providers.cloud import CloudProvider
from jarvis.providers.embedded import EmbeddedProvider
from jarvis.providers.keys.rotation import KeyRotation
from jarvis.providers.keys.sources import KeySources
from jarvis.providers.keys.types import KeyUse
from jarvis.providers.lifecycle import ModelLifecycle
from jarvis.providers.lmstudio import LMStudioProvider
from jarvis.providers.memory_observed import ObservedMemory
from jarvis.providers.ollama import OllamaProvider
from jarvis.providers.openai_compat import OpenAICompatProvider
from jarvis.providers.registry import CustomModel, ModelRegistry
from jarvis.providers.resources import GiB, ResourceGuard, system_available

from .config import Config, CustomModelConfig, ollama_hosts
from .paths import resolve_paths


def build_guard(
    config: Config, available: Callable[[], int] = system_available, observed: ObservedMemory | None = None
) -> ResourceGuard:
    """``observed``: Ollama's sizes of models it loaded before, which replace the estimate for them."""
    reserve = int(config.resources.reserve_gib * GiB)
    return ResourceGuard(reserve_bytes=reserve, available=available, observed=observed)


def build_providers(
    config: Config,
    guard: ResourceGuard,
    env: Mapping[str, str] | None = None,
    *,
    keys: KeySources | None = None,
    on_key_use: Callable[[KeyUse], None] | None = None,
) -> list[Provider]:
    """``keys``: where cloud keys come from (default: the environment and the config's api_keys);
    ``on_key_use`` hears of each use of a cloud key by its name (the ledger's key_usage)."""
    env = os.environ if env is None else env
    providers: list[Provider] = []
    if config.embedded.enabled:
        providers.append(
            EmbeddedProvider(
                "embedded",
                config.embedded.models,
                include_default=config.embedded.include_default,
                n_ctx=config.embedded.n_ctx,
                n_threads=config.embedded.n_threads,
                admit=guard.admit,
            )
        )
    if config.ollama.enabled:
        for host in ollama_hosts(config.ollama, dict(env)):
            providers.append(
                OllamaProvider(
                    host.name,
                    host.url,
                    timeout=config.ollama.timeout,
                    num_ctx=config.ollama.num_ctx,
                    keep_alive=config.ollama.keep_alive,
                    model_keep_alive={
                        mid.partition("/")[2]: value
                        for mid, value in config.lifecycle.keep_alive.items()
                        if mid.partition("/")[0] == host.name
                    },
                )
            )
    if config.lmstudio.enabled:
        providers.append(LMStudioProvider("lmstudio", config.lmstudio.url, timeout=config.lmstudio.timeout))
    for ep in config.openai_endpoints:
        key = env.get(ep.api_key_env) if ep.api_key_env else None
        providers.append(OpenAICompatProvider(ep.name, ep.url, api_key=key, timeout=ep.timeout))
    if config.cloud.enabled and config.cloud.models:
        providers.append(
            CloudProvider(
                "cloud",
                config.cloud.models,
                api_keys=config.cloud.api_keys,
                api_base=config.cloud.api_base,
                timeout=config.cloud.timeout,
                keys=KeyRotation(keys) if keys is not None else None,
                on_key_use=on_key_use,
            )
        )
    return providers


def custom_model(c: CustomModelConfig) -> CustomModel:
    return CustomModel(
        id=c.id,
        capabilities=frozenset(c.capabilities),
        context_length=c.context_length,
        cost_in_per_1k=c.cost_in_per_1k,
        cost_out_per_1k=c.cost_out_per_1k,
        tags=tuple(c.tags),
        description=c.description,
    )


def build_registry(
    config: Config,
    env: Mapping[str, str] | None = None,
    *,
    available_memory: Callable[[], int] = system_available,
    keys: KeySources | None = None,
    on_key_use: Callable[[KeyUse], None] | None = None,
) -> ModelRegistry:
    # Paths from the process environment (as the CLI resolves them); ``env`` is the providers' environment.
    guard = build_guard(config, available_memory, ObservedMemory(resolve_paths().model_memory))
    custom = [custom_model(c) for c in config.custom_models]
    return ModelRegistry(
        build_providers(config, guard, env, keys=keys, on_key_use=on_key_use),
        catalog=Catalog.shipped(),
        guard=guard,
        custom=custom,
        timeout=config.discovery.timeout,
        default_num_ctx=config.ollama.num_ctx,
    )


def build_lifecycle(config: Config, registry: ModelRegistry) -> ModelLifecycle:
    """Pull, load, unload and delete on the registry's local providers, with the config's pins."""
    return ModelLifecycle(
        registry,
        pinned=config.lifecycle.pinned,
        keep_alive=config.lifecycle.keep_alive,
        num_ctx=config.ollama.num_ctx,
    )
