"""OllamaProvider (official AsyncClient) against the faithful Ollama-API server on loopback."""

from __future__ import annotations

import pytest

from jarvis.providers.errors import ContextOverflow, ModelNotFound, OutOfMemory, ProviderUnavailable
from jarvis.providers.ollama import OllamaProvider, normalise_host
from jarvis.providers.types import GenerationOptions
from tests.conftest import dead_url
from tests.helpers import GREEDY, ask, collect


@pytest.fixture
async def ollama(ollama_url):
    provider = OllamaProvider("ollama", ollama_url)
    yield provider
    await provider.close()


async def test_lists_models_with_context_and_capabilities(ollama):
    models = {m.name: m for m in await ollama.list_models()}
    small = models["smollm2:135m"]
    assert small.context_length == 8192
    assert {"completion", "chat"} <= small.capabilities
    assert small.geometry["attention.head_count_kv"] == 3
    assert small.size_bytes and small.quantization == "Q4_1"
    assert models["bigcoder:70b"].size_bytes > 40 * 1024**3


async def test_stream_chat_real_tokens_and_server_timings(ollama):
    pieces, final = await collect(ollama.stream_chat("smollm2:135m", ask("Say hello."), GREEDY))
    assert "".join(pieces) == final.text and final.text
    assert final.provider == "ollama" and final.model == "smollm2:135m"
    assert final.completion_tokens == len(pieces)
    assert final.prompt_tokens > 10 and not final.usage_estimated
    assert final.tokens_per_s and final.tokens_per_s > 1
    info = await ollama.model_info("smollm2:135m")
    assert info.loaded is True


async def test_num_ctx_is_always_sent(ollama, ollama_url):
    """Without num_ctx the server would use its own default; we send ours (seen in /api/ps)."""
    provider = OllamaProvider("ollama", ollama_url, num_ctx=2048)
    await collect(provider.stream_chat("smollm2:135m", ask("hi"), GREEDY))
    ps = await provider._client.ps()
    assert ps.models[0].context_length == 2048
    await provider.close()


async def test_long_prompt_is_refused_instead_of_silently_truncated(ollama):
    with pytest.raises(ContextOverflow, match="silently drop"):
        await collect(ollama.stream_chat("smollm2:135m", ask("word " * 30000), GREEDY))


async def test_num_ctx_grows_to_fit_a_long_prompt(ollama):
    """A prompt larger than the default num_ctx but within the model's window is sent whole."""
    # ~3,500 tokens, above 4096 by our estimate
    prompt = "The quick brown fox jumps over the lazy dog. " * 350
    _, final = await collect(ollama.stream_chat("smollm2:135m", ask(prompt), GenerationOptions(max_tokens=2)))
    assert final.prompt_tokens > 3000
    assert not final.warnings


async def test_missing_model(ollama):
    with pytest.raises(ModelNotFound) as err:
        await collect(ollama.stream_chat("nope:1b", ask("hi")))
    assert "nope:1b" in str(err.value) and "jarvis models" in str(err.value)


async def test_server_out_of_memory(ollama):
    with pytest.raises(OutOfMemory, match="requires more system memory"):
        await collect(ollama.stream_chat("bigcoder:70b", ask("hi")))


async def test_dead_host_is_unavailable():
    provider = OllamaProvider("ollama", dead_url())
    with pytest.raises(ProviderUnavailable, match="Could not connect"):
        await provider.list_models()
    with pytest.raises(ProviderUnavailable):
        await collect(provider.stream_chat("smollm2:135m", ask("hi")))
    assert "ollama serve" in (await provider.health())
    await provider.close()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "http://127.0.0.1:11434"),
        ("gpubox", "http://gpubox:11434"),
        ("0.0.0.0:9999", "http://127.0.0.1:9999"),
        ("https://ollama.example.com", "https://ollama.example.com:443"),
        ("http://10.0.0.5:11434/", "http://10.0.0.5:11434"),
    ],
)
def test_host_forms_accepted_like_ollama_host(given, expected):
    assert normalise_host(given) == expected
