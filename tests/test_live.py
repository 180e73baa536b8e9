"""Against a real Ollama or LM Studio on this machine; skipped when none answers."""

from __future__ import annotations

import os

import httpx
import pytest

from jarvis.providers.lmstudio import DEFAULT_LMSTUDIO_URL, LMStudioProvider
from jarvis.providers.ollama import OllamaProvider, normalise_host
from tests.helpers import GREEDY, ask, collect

pytestmark = [pytest.mark.live, pytest.mark.slow]


def answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=0.5)
        return True
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def live_ollama() -> str:
    """The user's Ollama (OLLAMA_HOST, else the default address); the test is skipped when none answers.

    Session-scoped, so it reads OLLAMA_HOST before the autouse isolated_home clears it for a test."""
    url = normalise_host(os.environ.get("OLLAMA_HOST"))
    if not answers(url):
        pytest.skip(f"no Ollama at {url}")
    return url


@pytest.fixture(scope="session")
def live_lmstudio() -> None:
    if not answers(DEFAULT_LMSTUDIO_URL + "/v1/models"):
        pytest.skip(f"no LM Studio server at {DEFAULT_LMSTUDIO_URL}")


async def test_real_ollama_lists_and_chats(live_ollama):
    provider = OllamaProvider("ollama", live_ollama)
    models = [m for m in await provider.list_models() if "chat" in m.capabilities]
    if not models:
        pytest.skip("Ollama has no chat model pulled")
    smallest = min(models, key=lambda m: m.size_bytes or 0)
    assert smallest.context_length
    _, final = await collect(provider.stream_chat(smallest.name, ask("Say hi."), GREEDY))
    assert final.text and final.completion_tokens > 0
    await provider.close()


async def test_real_lmstudio_lists_and_chats(live_lmstudio):
    provider = LMStudioProvider()
    loaded = [m for m in await provider.list_models() if m.loaded and "chat" in m.capabilities]
    if not loaded:
        pytest.skip("LM Studio has no chat model loaded")
    _, final = await collect(provider.stream_chat(loaded[0].name, ask("Say hi."), GREEDY))
    assert final.text
    await provider.close()
