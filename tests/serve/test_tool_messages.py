"""A conversation an agent sends after a tool call (an assistant turn with no content, a tool result)
reaches the model asked for, without a fallback (tests/serve/test_tools*.py: the calls themselves)."""

from __future__ import annotations

import pytest

from .conftest import make_config

pytestmark = pytest.mark.slow

SMOL = "ollama/smollm2:135m"


async def test_a_tool_result_turn_reaches_the_asked_model(asgi, ollama_url):
    client = await asgi(config=make_config(ollama=ollama_url, embedded=False))
    call = {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
    body = {
        "model": SMOL,
        "max_tokens": 4,
        "messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        ],
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
    }
    answer = await client.post("/v1/chat/completions", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-jarvis-model"] == SMOL and answer.headers["x-jarvis-fallbacks"] == ""
    assert answer.json()["choices"][0]["message"]["content"]
