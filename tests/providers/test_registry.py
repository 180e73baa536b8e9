"""Model registry: concurrent discovery across real servers, catalog merge, custom models, status."""

from __future__ import annotations

import time

from jarvis.providers.catalog import Catalog
from jarvis.providers.embedded import EmbeddedProvider
from jarvis.providers.lmstudio import LMStudioProvider
from jarvis.providers.ollama import OllamaProvider
from jarvis.providers.registry import CustomModel, ModelEntry, ModelRegistry
from jarvis.providers.resources import GiB, ResourceGuard
from jarvis.providers.types import ModelInfo
from tests.conftest import dead_url


async def test_discovers_every_provider_and_survives_dead_and_hung_ones(ollama_url, openai_url, proxy_for):
    hung = await proxy_for(ollama_url)
    hung.mode = "hang"
    providers = [
        EmbeddedProvider(),
        OllamaProvider("ollama", ollama_url),
        LMStudioProvider("lmstudio", openai_url),
        OllamaProvider("gpubox", hung.url),
        LMStudioProvider("lmstudio2", dead_url()),
    ]
    registry = ModelRegistry(providers, catalog=Catalog.shipped(), timeout=1.0)
    started = time.monotonic()
    discovery = await registry.refresh()
    elapsed = time.monotonic() - started
    ids = {m.id for m in discovery.models}
    assert {"embedded/smollm2-135m", "ollama/smollm2:135m", "lmstudio/smollm2-135m-instruct"} <= ids
    down = {u.provider: u for u in discovery.unreachable}
    assert set(down) == {"gpubox", "lmstudio2"}
    assert "No answer within 1 s" in down["gpubox"].reason
    assert "Could not connect" in down["lmstudio2"].reason and "lms server start" in down["lmstudio2"].hint
    # The hung host costs its own timeout once, not once per provider.
    assert elapsed < 1.0 + 5.0
    await registry.close()


async def test_catalog_custom_and_memory_fit_are_merged(ollama_url):
    guard = ResourceGuard(available=lambda: 8 * GiB, reserve_bytes=0)
    custom = [
        CustomModel(id="ollama/smollm2:135m", capabilities=frozenset({"function_calling"}), tags=("mine",)),
        CustomModel(id="ollama/qwen2.5-coder:7b", description="on order"),
    ]
    registry = ModelRegistry(
        [OllamaProvider("ollama", ollama_url)], catalog=Catalog.shipped(), guard=guard, custom=custom
    )
    await registry.refresh()
    smol = registry.get("ollama/smollm2:135m")
    assert smol.status == "available" and smol.fits_memory is True
    assert "function_calling" in smol.capabilities and "mine" in smol.tags
    assert "SmolLM2" in smol.description  # from the shipped catalog
    big = registry.get("ollama/bigcoder:70b")
    assert big.fits_memory is False and "needs about" in big.memory_note
    expected = registry.get("ollama/qwen2.5-coder:7b")
    assert expected.status == "unavailable" and "code" in expected.capabilities
    provider, name = registry.provider_for("ollama/smollm2:135m")
    assert provider.name == "ollama" and name == "smollm2:135m"
    await registry.close()


async def test_deprecated_status_and_unknown_ids():
    catalog = Catalog.from_toml('[[models]]\nmatch = "smollm2*"\ndeprecated = true\n')
    registry = ModelRegistry([EmbeddedProvider()], catalog=catalog)
    await registry.refresh()
    assert registry.get("embedded/smollm2-135m").status == "deprecated"
    try:
        registry.get("embedded/nope")
    except Exception as err:
        assert "No model 'embedded/nope'" in str(err)
    else:
        raise AssertionError("unknown id must raise")


async def test_providers_and_models_are_added_through_the_api_and_each_change_is_a_new_generation(openai_url):
    registry = ModelRegistry([], catalog=Catalog.shipped(), timeout=5)
    assert registry.generation == 0 and registry.models == []
    registry.add_provider(LMStudioProvider("lan", openai_url))
    assert registry.generation == 0, "a provider's models arrive with the next refresh, not before"
    await registry.refresh()
    assert registry.generation == 1 and registry.get("lan/smollm2-135m-instruct").status == "available"
    # A model the server cannot list now, registered by hand: found by id, in listing order,
    # and the generation goes up.
    info = ModelInfo(provider="lan", name="a-model", context_length=4096, capabilities=frozenset({"chat"}))
    registry.add_model(ModelEntry(info, "lmstudio", "available", info.capabilities, 4096, None, 0, ""))
    assert registry.generation == 2 and registry.lookup("lan/a-model") is not None
    assert [m.id for m in registry.models][:2] == ["lan/a-model", "lan/smollm2-135m-instruct"]
    # Adding it again replaces it rather than listing it twice.
    registry.add_model(ModelEntry(info, "lmstudio", "unavailable", info.capabilities, 4096, None, 0, ""))
    ids = [m.id for m in registry.models]
    assert ids.count("lan/a-model") == 1 and ids[-1] == "lan/a-model", "unavailable models are listed last"
    assert registry.get("lan/a-model").status == "unavailable" and registry.generation == 3
    await registry.close()
