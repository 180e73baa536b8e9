"""Embeddings through the OpenAI and Ollama APIs take the backend's router slot (429 with Retry-After when
its queue is full, in each API's shape) and are counted by /metrics like any other model request."""

from __future__ import annotations

import httpx
import pytest

from jarvis.app.engine import build_engine
from jarvis.app.paths import resolve_paths
from jarvis.app.serve.server import ServeSettings, build_app
from jarvis.chains.router import Limit

from .conftest import make_config

pytestmark = pytest.mark.slow

EMB = "emb/nomic-embed-text"


@pytest.fixture
async def served(embed_url):
    """(client, engine): the whole app in-process over the loopback embeddings server."""
    engine = await build_engine(
        make_config(endpoints={"emb": embed_url}, embedded=False), resolve_paths()
    ).start()
    app = build_app(engine, ServeSettings(heartbeat_s=0))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:11435")
    yield client, engine
    await client.aclose()
    await engine.close()


async def test_embeddings_are_counted_by_metrics(served):
    client, _ = served
    openai = await client.post("/v1/embeddings", json={"model": EMB, "input": ["a", "b"]})
    assert openai.status_code == 200, openai.text
    assert len(openai.json()["data"]) == 2
    ollama = await client.post("/api/embed", json={"model": EMB, "input": "a"})
    assert ollama.status_code == 200, ollama.text
    metrics = (await client.get("/metrics")).text
    counted = [
        line
        for line in metrics.splitlines()
        if line.startswith("jarvis_requests_total{") and EMB in line and 'status="ok"' in line
    ]
    assert len(counted) == 1 and counted[0].endswith(" 2.0"), metrics


async def test_embeddings_wait_for_the_backends_slot_and_429_when_its_queue_is_full(served):
    client, engine = served
    engine.router.limits = {"emb": Limit(per_model=1)}
    engine.router.queue_size = 0
    held = await engine.router.acquire(engine.registry.get(EMB))
    try:
        openai = await client.post("/v1/embeddings", json={"model": EMB, "input": "a"})
        ollama = await client.post("/api/embed", json={"model": EMB, "input": "a"})
        legacy = await client.post("/api/embeddings", json={"model": EMB, "prompt": "a"})
    finally:
        held.release()
    assert openai.status_code == 429 and int(openai.headers["retry-after"]) >= 1
    assert "queue" in openai.json()["error"]["message"]
    for response in (ollama, legacy):
        assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1
        assert "queue" in response.json()["error"]
    again = await client.post("/v1/embeddings", json={"model": EMB, "input": "a"})
    assert again.status_code == 200, again.text
