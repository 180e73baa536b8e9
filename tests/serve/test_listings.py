"""What `jarvis serve` lists, in-process (no model runs): /v1/models with the virtual models, Ollama's
version, tags (every field Zed's strict parser requires), ps and show."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.serve.conftest import EMBEDDED, make_config


async def test_v1_models_lists_registry_and_virtual_models(asgi):
    client = await asgi()
    doc = (await client.get("/v1/models")).json()
    assert doc["object"] == "list"
    ids = [m["id"] for m in doc["data"]]
    assert EMBEDDED in ids
    for virtual in ("jarvis/auto", "jarvis/code", "jarvis/chain/default", "jarvis/chain/code"):
        assert virtual in ids
    assert all(
        m["object"] == "model" and isinstance(m["created"], int) and m["owned_by"] for m in doc["data"]
    )
    one = await client.get(f"/v1/models/{EMBEDDED}")
    assert one.status_code == 200 and one.json()["id"] == EMBEDDED
    assert (await client.get("/v1/models/nope")).status_code == 404


async def test_ollama_version_is_one_copilot_accepts(asgi):
    client = await asgi()
    version = (await client.get("/api/version")).json()["version"]
    assert tuple(int(x) for x in version.split(".")) >= (0, 6, 4)
    root = await client.get("/")
    assert root.text == "Ollama is running"


async def test_tags_carry_every_field_zeds_parser_requires(asgi):
    client = await asgi()
    models = (await client.get("/api/tags")).json()["models"]
    names = [m["name"] for m in models]
    assert EMBEDDED in names and "jarvis/auto" in names
    for m in models:
        assert set(m) >= {"name", "model", "modified_at", "size", "digest", "details"}
        assert isinstance(m["size"], int) and len(m["digest"]) == 64
        assert m["modified_at"].endswith("Z")
        assert set(m["details"]) >= {"format", "family", "families", "parameter_size", "quantization_level"}
    smol = next(m for m in models if m["name"] == EMBEDDED)
    assert smol["size"] > 50_000_000 and smol["details"]["parameter_size"]


async def test_show_gives_capabilities_context_length_and_template(asgi):
    client = await asgi()
    doc = (await client.post("/api/show", json={"model": EMBEDDED})).json()
    # SmolLM2's template is ChatML: llama-cpp-python's tool handler serves it (test_tools*.py).
    assert "completion" in doc["capabilities"] and "tools" in doc["capabilities"]
    arch = doc["model_info"]["general.architecture"]
    assert doc["model_info"][f"{arch}.context_length"] > 0
    assert doc["template"]
    bare = (await client.post("/api/show", json={"name": "smollm2-135m"})).json()  # by bare name
    assert bare["model_info"] == doc["model_info"]


async def test_ps_lists_only_loaded_models(asgi):
    client = await asgi()
    doc = (await client.get("/api/ps")).json()
    assert doc == {"models": []}  # nothing has run in this process yet


@pytest.mark.slow
async def test_ps_asks_the_backends_what_is_loaded_now(asgi, ollama_url):
    # Loaded after the registry was read (by `jarvis models load` or another client): /api/ps must see it
    # with Ollama's own size, and see it go when unloaded.
    client = await asgi(config=make_config(ollama=ollama_url, embedded=False))
    async with httpx.AsyncClient(base_url=ollama_url) as ollama:
        await ollama.post("/api/generate", json={"model": "smollm2:135m", "keep_alive": "5m"})
        truth = (await ollama.get("/api/ps")).json()["models"][0]
        doc = (await client.get("/api/ps")).json()
        assert [m["name"] for m in doc["models"]] == ["ollama/smollm2:135m"]
        (m,) = doc["models"]
        assert m["size"] == truth["size"] and m["context_length"] == truth["context_length"]
        assert m["expires_at"].endswith("Z") and set(m) >= {"model", "digest", "details", "size_vram"}
        await ollama.post("/api/generate", json={"model": "smollm2:135m", "keep_alive": 0})
    assert (await client.get("/api/ps")).json() == {"models": []}


@pytest.mark.slow
async def test_a_model_pulled_while_serving_is_found_and_listed(asgi, ollama_url):
    from jarvis.app.serve.server import ServeSettings

    client = await asgi(ServeSettings(rediscover_s=0.3), make_config(ollama=ollama_url, embedded=False))
    async with httpx.AsyncClient(base_url=ollama_url, timeout=60) as ollama:
        for name in ("fake-late:1b-size1m", "fake-later:1b-size1m"):
            pulled = await ollama.post("/api/pull", json={"model": name, "stream": False})
            assert pulled.status_code == 200, pulled.text
        try:
            # Asked for by name: one rediscovery finds it (it was a 404 until a restart).
            ask = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
            late = await client.post(
                "/v1/chat/completions", json={**ask, "model": "ollama/fake-late:1b-size1m"}
            )
            assert late.status_code == 200, late.text
            # Listed: the periodic rediscovery adds it to /api/tags without a request naming it.
            for _ in range(50):
                names = [m["name"] for m in (await client.get("/api/tags")).json()["models"]]
                if "ollama/fake-later:1b-size1m" in names:
                    break
                await asyncio.sleep(0.1)
            assert "ollama/fake-later:1b-size1m" in names
        finally:
            for name in ("fake-late:1b-size1m", "fake-later:1b-size1m"):
                await ollama.request("DELETE", "/api/delete", json={"model": name})


@pytest.mark.slow
async def test_an_empty_generate_loads_the_model_and_keep_alive_0_unloads_it(asgi, ollama_url):
    # As Ollama does: editors warm a model up with an empty prompt (and free it with keep_alive 0).
    client = await asgi(config=make_config(ollama=ollama_url, embedded=False))
    async with httpx.AsyncClient(base_url=ollama_url) as ollama:
        await ollama.post("/api/generate", json={"model": "smollm2:135m", "keep_alive": 0})
        warm = await client.post("/api/generate", json={"model": "ollama/smollm2:135m"})
        assert warm.status_code == 200 and warm.json()["done_reason"] == "load"
        assert [m["name"] for m in (await ollama.get("/api/ps")).json()["models"]] == ["smollm2:135m"]
        cold = await client.post("/api/generate", json={"model": "ollama/smollm2:135m", "keep_alive": "0"})
        assert cold.status_code == 200 and cold.json()["done_reason"] == "unload"
        assert (await ollama.get("/api/ps")).json()["models"] == []
    virtual = await client.post("/api/generate", json={"model": "jarvis/auto"})
    assert virtual.status_code == 200 and virtual.json()["done_reason"] == "load"
