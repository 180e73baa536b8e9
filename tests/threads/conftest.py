"""A real engine over the faithful Ollama-API server, through a proxy that keeps every request body."""

from __future__ import annotations

import json

import pytest

from jarvis.chains.events import Event, RunFinished
from jarvis.chains.run_options import RunOptions
from jarvis.providers.ollama import OllamaProvider
from tests.chains.rig import build_rig

MODEL = "ollama/smollm2:135m"


def finished(events: list[Event]) -> RunFinished:
    last = events[-1]
    assert isinstance(last, RunFinished), f"run did not finish: {last}"
    return last


def chat_messages(body: bytes) -> list[dict]:
    """The messages of one /api/chat request as the Ollama server received them."""
    return json.loads(body)["messages"]


def options(**kw) -> RunOptions:
    """Short greedy answers from the one test model, never from the cache."""
    return RunOptions(model=MODEL, use_cache=False, overrides={"max_tokens": 24, "temperature": 0.0}, **kw)


@pytest.fixture
async def ollama_rig(tmp_path, ollama_url, proxy_for):
    proxy = await proxy_for(ollama_url)
    rig = build_rig([OllamaProvider("ollama", proxy.url, timeout=60)], tmp_path / "ledger.db")
    await rig.registry.refresh()
    yield rig, proxy
    await rig.registry.close()
    rig.ledger.close()
