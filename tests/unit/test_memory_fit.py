"""Memory before action: the fit sentence, the unload choice, and the guard-backed check."""

from __future__ import annotations

import httpx
import pytest

from jarvis.providers.lifecycle import ModelLifecycle
from jarvis.providers.memory_fit import LoadedModel, check_fit, choose_unloads, fit_sentence
from jarvis.providers.memory_observed import Observation, ObservedMemory
from jarvis.providers.ollama import OllamaProvider
from jarvis.providers.registry import ModelRegistry
from jarvis.providers.resources import GiB, MiB, ResourceGuard
from jarvis.providers.types import ModelInfo

LLAMA = LoadedModel("ollama/llama3.2:3b", int(2.9 * GiB))
PHI = LoadedModel("ollama/phi3:mini", int(2.4 * GiB))
TINY = LoadedModel("ollama/smollm2:135m", 300 * MiB)


def test_the_issue_example_reads_as_written():
    report = fit_sentence("ollama/qwen2.5-coder:7b", int(5.6 * GiB), int(3.1 * GiB), [TINY, LLAMA])
    assert (
        report.sentence
        == "qwen2.5-coder:7b needs 5.6 GiB; 3.1 GiB free; unloading llama3.2:3b frees 2.9 GiB."
    )
    assert not report.fits and report.fits_after_unload
    assert report.unload == (LLAMA,) and report.frees == LLAMA.size_bytes
    assert report.as_json()["unload"] == ["ollama/llama3.2:3b"]


def test_a_model_that_fits_says_so_with_numbers():
    report = fit_sentence("embedded/smol", 300 * MiB, 4 * GiB, [LLAMA])
    assert report.fits and report.unload == () and report.frees == 0
    assert report.sentence == "smol needs 300 MiB; 4.0 GiB free: it fits."


def test_smallest_single_model_that_suffices_is_chosen():
    # Either model frees the missing 2 GiB; unloading the smaller keeps more of the user's work.
    assert choose_unloads(2 * GiB, [LLAMA, PHI, TINY]) == (PHI,)


def test_several_models_when_no_single_one_suffices_largest_first():
    assert choose_unloads(5 * GiB, [TINY, PHI, LLAMA]) == (LLAMA, PHI)
    report = fit_sentence("ollama/big:14b", 8 * GiB, 3 * GiB, [TINY, PHI, LLAMA])
    assert "unloading llama3.2:3b and phi3:mini frees 5.3 GiB" in report.sentence
    assert report.fits_after_unload


def test_pinned_models_are_never_suggested():
    pinned = LoadedModel(LLAMA.id, LLAMA.size_bytes, pinned=True)
    assert choose_unloads(2 * GiB, [pinned, TINY]) == ()
    report = fit_sentence("ollama/qwen2.5-coder:7b", int(5.6 * GiB), int(3.1 * GiB), [pinned, TINY])
    assert not report.fits and not report.fits_after_unload and report.unload == ()
    assert "unloading every unpinned model frees only 300 MiB" in report.sentence
    assert "smaller model" in report.sentence


def test_nothing_loaded_and_no_room():
    report = fit_sentence("ollama/big:70b", 40 * GiB, 8 * GiB)
    assert not report.fits and "no loaded model can be unloaded" in report.sentence


def test_check_fit_uses_the_guards_estimate_and_free_memory():
    guard = ResourceGuard(available=lambda: 5 * GiB, reserve_bytes=1 * GiB)
    geometry = {
        "block_count": 32,
        "embedding_length": 4096,
        "attention.head_count": 32,
        "attention.head_count_kv": 8,
    }
    info = ModelInfo("ollama", "qwen2.5-coder:7b", size_bytes=int(4.4 * GiB), geometry=geometry)
    report = check_fit(guard, info, 4096, [LLAMA])
    assert report.needed == guard.estimate(info, 4096).total and report.free == 4 * GiB
    assert not report.fits and report.unload == (LLAMA,)
    assert check_fit(guard, info, 4096, [LoadedModel(info.id, 5 * GiB)]).fits  # already loaded
    remote = ModelInfo("ollama", "far", size_bytes=50 * GiB, local=False)
    assert check_fit(guard, remote, 4096).fits


# -- Ollama's /api/ps sizes replace the estimate, and teach a per-family correction -----------
GEOMETRY = {
    "block_count": 28,
    "embedding_length": 3584,
    "attention.head_count": 28,
    "attention.head_count_kv": 4,
}


def ollama_model(name: str, family: str, size_gib: float) -> ModelInfo:
    return ModelInfo("ollama", name, size_bytes=int(size_gib * GiB), family=family, geometry=GEOMETRY)


def test_ps_size_replaces_the_estimate_and_is_kept_in_the_data_dir(tmp_path):
    store = tmp_path / "model-memory.json"
    guard = ResourceGuard(observed=ObservedMemory(store))
    qwen = ollama_model("qwen2.5-coder:7b", "qwen2", 4.4)
    formula = guard.estimate(qwen, 4096)
    assert formula.basis == "formula"
    guard.observe(qwen, 4096, int(6.1 * GiB))  # recorded from /api/ps: {"size": 6549825126, ...}
    after = guard.estimate(qwen, 4096)
    assert after.total == int(6.1 * GiB) and after.basis == "ollama"
    # Another context: the formula scaled by what this model taught, not the old figure.
    ratio = int(6.1 * GiB) / formula.total
    wider = ResourceGuard(observed=ObservedMemory(store)).estimate(qwen, 8192)  # a new process reads the file
    assert wider.basis == "learned"
    assert wider.total == int(guard.formula(qwen, 8192).total * ratio)


def test_family_ratio_applies_to_models_not_yet_loaded():
    guard = ResourceGuard(observed=ObservedMemory())
    small, big = ollama_model("qwen2.5:1.5b", "qwen2", 1.0), ollama_model("qwen2.5:14b", "qwen2", 9.0)
    for info, ratio in ((small, 1.3), (ollama_model("qwen2.5:3b", "qwen2", 1.9), 1.1)):
        guard.observe(info, 4096, int(guard.formula(info, 4096).total * ratio))
    est = guard.estimate(big, 4096)
    assert est.basis == "learned"
    assert est.total == pytest.approx(guard.formula(big, 4096).total * 1.2, rel=1e-6)  # the median
    other = ollama_model("llama3.2:3b", "llama", 2.0)
    assert guard.estimate(other, 4096).basis == "formula"


def test_in_process_models_keep_the_measured_formula(model_path):
    guard = ResourceGuard(observed=ObservedMemory())
    embedded = ModelInfo(
        "embedded", "smol", size_bytes=model_path.stat().st_size, family="llama", path=str(model_path)
    )
    guard.observe(ollama_model("smollm2:135m", "llama", 0.1), 4096, 5 * GiB)
    assert guard.estimate(embedded, 4096).basis == "formula"


def test_a_damaged_cache_is_an_empty_one(tmp_path):
    store = tmp_path / "model-memory.json"
    store.write_text("{not json")
    observed = ObservedMemory(store)
    assert observed.actual("ollama/x", 4096) is None
    observed.record(Observation("ollama/x", "llama", 4096, 100, 150))
    assert ObservedMemory(store).actual("ollama/x", 4096) == 150


async def test_learned_from_the_ollama_test_servers_ps(ollama_url):
    guard = ResourceGuard(observed=ObservedMemory())
    provider = OllamaProvider("ollama", ollama_url)
    infos = {m.name: m for m in await provider.list_models()}
    small, huge = infos["smollm2:135m"], infos["bigcoder:70b"]
    assert small.family == huge.family == "llama"
    async with httpx.AsyncClient(base_url=ollama_url) as http:
        load = {"model": "smollm2:135m", "prompt": "", "keep_alive": "1m", "options": {"num_ctx": 2048}}
        (await http.post("/api/generate", json=load)).raise_for_status()
        ps = (await http.get("/api/ps")).json()["models"]
        await http.post("/api/generate", json={"model": "smollm2:135m", "keep_alive": 0})
    loaded = next(m for m in ps if m["name"] == "smollm2:135m")
    guard.observe(small, loaded["context_length"], loaded["size"])
    assert guard.estimate(small, loaded["context_length"]).total == loaded["size"]
    learned = guard.estimate(huge, 2048)
    assert learned.basis == "learned"
    ratio = loaded["size"] / guard.formula(small, loaded["context_length"]).total
    assert learned.total == int(guard.formula(huge, 2048).total * ratio)
    await provider.close()


async def test_reading_loaded_models_teaches_the_guard_and_the_fit_uses_it(ollama_url):
    guard = ResourceGuard(available=lambda: 200 * GiB, reserve_bytes=0, observed=ObservedMemory())
    registry = ModelRegistry([OllamaProvider("ollama", ollama_url)], guard=guard)
    await registry.refresh()
    lifecycle = ModelLifecycle(registry, num_ctx=2048)
    await lifecycle.load("ollama/smollm2:135m")
    try:
        loaded, _ = await lifecycle.loaded()  # what the Models view and `jarvis models ps` read
        size = next(m.size_bytes for m in loaded if m.id == "ollama/smollm2:135m")
    finally:
        await lifecycle.unload("ollama/smollm2:135m")
    small = registry.get("ollama/smollm2:135m").info
    assert guard.estimate(small, 2048).total == size  # Ollama's figure, once it has loaded the model
    report = await lifecycle.fit("ollama/bigcoder:70b")
    assert report is not None and report.basis == "learned" and report.as_json()["basis"] == "learned"
    assert (
        report is not None
        and report.needed == guard.estimate(registry.get("ollama/bigcoder:70b").info, 2048).total
    )
    assert guard.estimate(registry.get("ollama/bigcoder:70b").info, 2048).basis == "learned"
    await registry.close()
