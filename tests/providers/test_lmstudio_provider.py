"""LM Studio / generic OpenAI-compatible providers against llama-cpp-python's real server."""

from __future__ import annotations

import pytest

from jarvis.providers.errors import BadResponse, ContextOverflow, ProviderUnavailable
from jarvis.providers.lmstudio import LMStudioProvider
from jarvis.providers.openai_compat import OpenAICompatProvider, guess_capabilities
from jarvis.providers.types import GenerationOptions
from tests.conftest import dead_url
from tests.helpers import GREEDY, ask, collect

MODEL = "smollm2-135m-instruct"


@pytest.fixture
async def lmstudio(openai_url):
    provider = LMStudioProvider("lmstudio", openai_url)
    yield provider
    await provider.close()


async def test_lists_state_type_and_context_from_api_v0(lmstudio):
    models = {m.name: m for m in await lmstudio.list_models()}
    chat = models[MODEL]
    assert chat.loaded is True and chat.context_length == 8192
    assert {"chat", "completion"} <= chat.capabilities
    embed = models["text-embedding-nomic-embed-text-v1.5"]
    assert embed.loaded is False and embed.capabilities == {"embeddings"}


@pytest.mark.slow  # starts its own server without /api/v0
async def test_falls_back_to_v1_models_without_api_v0(model_path):
    from tests.conftest import run_server

    args = ("/v1/models", "--model", str(model_path), "--no-v0")
    with run_server("tests.servers.openai_server", *args) as url:
        provider = LMStudioProvider("lmstudio", url)
        [model] = await provider.list_models()
        assert model.name == MODEL and model.loaded is None
        await provider.close()


async def test_streams_sse_and_keeps_timings(lmstudio):
    pieces, final = await collect(lmstudio.stream_chat(MODEL, ask("Say hello."), GREEDY))
    assert "".join(pieces) == final.text and final.text
    assert final.completion_tokens == len(pieces)
    # llama.cpp's server sends no usage chunk: the counts are ours and say so.
    assert final.usage_estimated
    assert final.ttft_s and final.ttft_s > 0 and final.finish_reason in ("stop", "length")


async def test_generic_endpoint_speaks_the_same_protocol(openai_url):
    provider = OpenAICompatProvider("gpubox", openai_url)
    [model] = await provider.list_models()
    assert model.id == f"gpubox/{MODEL}"
    _, final = await collect(provider.stream_chat(MODEL, ask("hi"), GREEDY))
    assert final.provider == "gpubox" and final.text
    await provider.close()


async def test_prompt_over_known_window_is_refused_before_sending(lmstudio):
    await lmstudio.list_models()
    with pytest.raises(ContextOverflow, match="8192-token"):
        await collect(lmstudio.stream_chat(MODEL, ask("word " * 30000), GenerationOptions(max_tokens=10)))


async def test_server_that_drops_a_too_long_prompt_says_so(openai_url):
    # Without a listing we do not know the window; llama.cpp's server then answers 200 with an empty stream.
    provider = OpenAICompatProvider("raw", openai_url)
    with pytest.raises(BadResponse, match="without answering"):
        await collect(provider.stream_chat(MODEL, ask("word " * 6000), GenerationOptions(max_tokens=4)))
    await provider.close()


async def test_dead_server_is_unavailable_with_how_to_start():
    provider = LMStudioProvider("lmstudio", dead_url())
    with pytest.raises(ProviderUnavailable) as err:
        await provider.list_models()
    assert "lms server start" in str(err.value)
    await provider.close()


def test_capabilities_from_names():
    assert "code" in guess_capabilities("qwen2.5-coder-7b-instruct")
    assert guess_capabilities("nomic-embed-text") == {"embeddings"}
    assert "vision" in guess_capabilities("qwen2-vl-7b", "vlm")


@pytest.mark.parametrize("line", ["5", "[1]", "{not json"])
async def test_a_stream_line_that_is_not_a_json_object_is_a_bad_response(line):
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        body = f"data: {line}\n\ndata: [DONE]\n\n"
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    provider = OpenAICompatProvider("odd", "http://odd.invalid", transport=httpx.MockTransport(handler))
    with pytest.raises(BadResponse, match="malformed stream line"):
        await collect(provider.stream_chat("m", ask("hi")))
    await provider.close()
