"""A prompt longer than the context window is the client's to shorten: 400 with OpenAI's
`context_length_exceeded` code (Ollama: its `{"error": ...}` shape), never a 503. In-process (ASGI): the
refusal comes from the selection, before any model runs."""

from __future__ import annotations

import pytest

from tests.serve.conftest import EMBEDDED

#: Far beyond SmolLM2's window (and any small model's): ~50k tokens by the estimate.
HUGE = "word " * 50_000


async def window(client) -> int:
    shown = await client.post("/api/show", json={"model": EMBEDDED})
    info = shown.json()["model_info"]
    return next(v for k, v in info.items() if k.endswith(".context_length"))


async def test_too_long_for_every_model_is_400_context_length_exceeded(asgi):
    client = await asgi()
    body = {"model": "jarvis/auto", "messages": [{"role": "user", "content": HUGE}]}
    resp = await client.post("/v1/chat/completions", json=body)
    assert resp.status_code == 400, resp.text
    err = resp.json()["error"]
    assert err["code"] == "context_length_exceeded" and err["type"] == "invalid_request_error"
    assert err["param"] == "messages"
    assert "too long" in err["message"] and "Shorten the messages" in err["message"]
    assert str(await window(client)) in err["message"]
    streamed = await client.post("/v1/chat/completions", json={**body, "stream": True})
    assert streamed.status_code == 400 and streamed.json()["error"]["code"] == "context_length_exceeded"


async def test_too_long_for_the_named_model_in_both_apis(asgi):
    client = await asgi()
    limit = await window(client)
    openai = await client.post(
        "/v1/chat/completions",
        json={"model": EMBEDDED, "messages": [{"role": "user", "content": HUGE}], "stream": True},
    )
    assert openai.status_code == 400
    err = openai.json()["error"]
    assert err["code"] == "context_length_exceeded"
    assert err["message"].startswith(
        f"The request is too long: {EMBEDDED}'s maximum context length is {limit}"
    )
    ollama = await client.post(
        "/api/chat", json={"model": EMBEDDED, "messages": [{"role": "user", "content": HUGE}]}
    )
    assert ollama.status_code == 400
    assert list(ollama.json()) == ["error"] and "too long" in ollama.json()["error"]
    generate = await client.post("/api/generate", json={"model": EMBEDDED, "prompt": HUGE})
    assert generate.status_code == 400 and "maximum context length" in generate.json()["error"]


async def test_a_max_tokens_past_the_window_is_400_naming_both_parts(asgi):
    client = await asgi()
    limit = await window(client)
    body = {"model": EMBEDDED, "messages": [{"role": "user", "content": "hi"}], "max_tokens": limit + 10}
    resp = await client.post("/v1/completions", json={**body, "prompt": "hi"})
    assert resp.status_code == 400, resp.text
    message = resp.json()["error"]["message"]
    assert f"{limit + 10} in the completion" in message and "lower max_tokens" in message


async def test_a_prompt_that_fits_without_the_default_answer_budget_is_served(isolated_home):
    """No max_tokens and a prompt that fits the window but not with 512 answer tokens more: the model
    answers (until its window is full), as OpenAI does; with max_tokens set, the same is a 400."""
    from jarvis.app.engine import build_engine
    from jarvis.app.paths import resolve_paths
    from jarvis.app.serve.gateway import CONTEXT_EXCEEDED, Failed, Gateway
    from jarvis.chains.selection import NoModelAvailable, Request
    from tests.serve.conftest import make_config

    engine = await build_engine(make_config(), resolve_paths()).start()
    try:
        gateway = Gateway(engine)
        limit = engine.registry.lookup(EMBEDDED).context_length
        ask = Request(task_type="chat", prompt_tokens=limit - 100, max_tokens=512, explicit=EMBEDDED)
        with pytest.raises(NoModelAvailable):
            engine.selector.select(ask, {})
        served = gateway._fit_context(ask, {}, sized=False)
        assert not isinstance(served, Failed) and served is not None and served.model.id == EMBEDDED
        refused = gateway._fit_context(ask, {}, sized=True)
        assert isinstance(refused, Failed) and refused.status == 400 and refused.kind == CONTEXT_EXCEEDED
        numbers = f"{limit + 412} tokens ({limit - 100} in the messages, 512 in the completion)"
        assert numbers in refused.message
    finally:
        await engine.close()
