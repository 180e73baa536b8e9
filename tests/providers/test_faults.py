"""Every failure a server can show gives the right typed error, with a sentence, never a raw traceback."""

from __future__ import annotations

import pytest

from jarvis.providers.errors import (
    BadResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from jarvis.providers.lmstudio import LMStudioProvider
from jarvis.providers.ollama import OllamaProvider
from jarvis.providers.openai_compat import OpenAICompatProvider
from jarvis.providers.types import GenerationOptions
from tests.conftest import dead_url
from tests.helpers import ask, collect

LONG = GenerationOptions(max_tokens=60, temperature=0)


@pytest.fixture(params=["ollama", "openai"])
async def via_proxy(request, proxy_for, ollama_url, openai_url):
    """(proxy, make_provider(timeout), model) for each wire protocol."""
    if request.param == "ollama":
        proxy = await proxy_for(ollama_url)
        return proxy, (lambda t=30: OllamaProvider("ollama", proxy.url, timeout=t)), "smollm2:135m"
    proxy = await proxy_for(openai_url)
    return proxy, (lambda t=30: OpenAICompatProvider("box", proxy.url, timeout=t)), "smollm2-135m-instruct"


async def test_pass_through_works(via_proxy):
    proxy, make, model = via_proxy
    provider = make()
    _, final = await collect(provider.stream_chat(model, ask("hi"), LONG))
    assert final.text
    before = proxy.requests
    await collect(provider.stream_chat(model, ask("hi"), LONG))
    assert proxy.requests == before + 1, "a warm chat request is one round trip"


async def test_connection_refused():
    for provider in (OllamaProvider("ollama", dead_url()), LMStudioProvider("lmstudio", dead_url())):
        with pytest.raises(ProviderUnavailable, match="Could not connect"):
            await collect(provider.stream_chat("m", ask("hi")))


async def test_http_500(via_proxy):
    proxy, make, model = via_proxy
    proxy.mode = "status500"
    with pytest.raises(ProviderUnavailable, match="HTTP 500"):
        await collect(make().stream_chat(model, ask("hi")))


async def test_429_with_retry_after(via_proxy):
    proxy, make, model = via_proxy
    proxy.mode = "status429"
    proxy.retry_after = "7"
    with pytest.raises(RateLimited) as err:
        await collect(make().stream_chat(model, ask("hi")))
    # The ollama client drops response headers, so Retry-After is only known on the OpenAI path.
    if isinstance(make(), OpenAICompatProvider):
        assert err.value.retry_after == 7
        assert "7 s" in str(err.value)


async def test_stream_cut_midway_keeps_partial_text(via_proxy):
    proxy, make, model = via_proxy
    proxy.mode, proxy.after_lines = "cut", 5
    with pytest.raises(BadResponse) as err:
        await collect(make().stream_chat(model, ask("Write a poem about the sea."), LONG))
    assert err.value.partial_text, "text received before the cut is kept"
    assert err.value.transient


async def test_malformed_stream_line(via_proxy):
    proxy, make, model = via_proxy
    proxy.mode, proxy.after_lines = "malformed", 4
    with pytest.raises(BadResponse, match="malformed"):
        await collect(make().stream_chat(model, ask("Write a poem about the sea."), LONG))


async def test_hang_past_timeout(via_proxy):
    proxy, make, model = via_proxy
    proxy.mode = "hang"
    with pytest.raises(ProviderTimeout, match="Timed out"):
        await collect(make(0.5).stream_chat(model, ask("hi")))


async def test_reset_before_answer(via_proxy):
    proxy, make, model = via_proxy
    proxy.mode = "reset"
    with pytest.raises(ProviderError) as err:
        await collect(make().stream_chat(model, ask("hi")))
    assert isinstance(err.value, ProviderUnavailable | BadResponse)
    assert str(err.value).endswith((".", ")")) and "Traceback" not in str(err.value)
