"""Sequential comparisons and evals do not hoard memory: each model is unloaded before the next loads,
unless pinned; checked with the Ollama test server's /api/ps."""

from __future__ import annotations

import httpx
import pytest

from jarvis.app.config import Config
from jarvis.app.engine import build_engine
from jarvis.app.paths import resolve_paths
from jarvis.chains.events import Notice, RunFinished
from jarvis.providers.resources import GiB, MiB
from jarvis.providers.types import GenerationOptions

FIRST, SECOND = "smollm2:135m", "release:copy"


def loaded(url: str) -> set[str]:
    return {m["model"] for m in httpx.get(f"{url}/api/ps").json()["models"]}


@pytest.fixture
def two_models(ollama_url):
    httpx.post(f"{ollama_url}/api/copy", json={"source": FIRST, "destination": SECOND}).raise_for_status()
    for name in (FIRST, SECOND):  # start from nothing loaded, so that neither counts as free
        httpx.post(f"{ollama_url}/api/generate", json={"model": name, "keep_alive": 0}).raise_for_status()
    yield ollama_url
    httpx.request("DELETE", f"{ollama_url}/api/delete", json={"model": SECOND})


def engine_for(url: str, tmp_path, pinned: list[str]):
    config = Config.model_validate(
        {
            "embedded": {"enabled": False},
            "lmstudio": {"enabled": False},
            "ollama": {"hosts": [{"name": "ollama", "url": url}]},
            "lifecycle": {"pinned": pinned},
        }
    )
    # One SmolLM2 (~300 MiB at 4k) fits in what is left after the 1 GiB reserve; two do not.
    return build_engine(
        config, resolve_paths({"JARVIS_HOME": str(tmp_path)}), available_memory=lambda: GiB + 450 * MiB
    )


async def compare(engine) -> list:
    await engine.start()
    options = GenerationOptions(max_tokens=4, temperature=0)
    return [
        e
        async for e in engine.orchestrator.compare("Say hi", [f"ollama/{FIRST}", f"ollama/{SECOND}"], options)
    ]


async def test_a_sequential_comparison_unloads_each_model_after_its_turn(two_models, tmp_path):
    engine = engine_for(two_models, tmp_path, pinned=[])
    try:
        events = await compare(engine)
    finally:
        await engine.close()
    notices = [e.text for e in events if isinstance(e, Notice)]
    assert notices[0].startswith("Running one after another")
    assert f"Unloaded {FIRST} on ollama at {two_models}." in notices
    assert isinstance(events[-1], RunFinished)
    # The first model left memory before the second loaded; the last one stays for the next request.
    assert loaded(two_models) == {SECOND}


async def test_a_pinned_model_stays_loaded(two_models, tmp_path):
    engine = engine_for(two_models, tmp_path, pinned=[f"ollama/{FIRST}"])
    try:
        events = await compare(engine)
    finally:
        await engine.close()
    assert not any(isinstance(e, Notice) and e.text.startswith("Unloaded") for e in events)
    assert loaded(two_models) == {FIRST, SECOND}
