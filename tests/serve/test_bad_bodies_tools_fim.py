"""Malformed tool and fill-in-the-middle requests: a 400 with one sentence in the shape of the API they
were sent to, never a 500. In-process (ASGI): no model runs."""

from __future__ import annotations

import pytest

ASK = [{"role": "user", "content": "hi"}]
BAD_TOOLS = [
    {"tools": {"name": "f"}},
    {"tools": [{"type": "function", "function": {"description": "no name"}}]},
    {"tools": ["f"]},
    # A quote in a name crashed the process through llama-cpp-python's tool grammar (embedded models).
    {"tools": [{"type": "function", "function": {"name": 'a"b c'}}]},
    {"tools": [{"type": "function", "function": {"name": "x" * 65}}]},
    {"tools": [{"type": "function", "function": {"name": "f", "parameters": "x"}}]},
    {"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": 5},
    {"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": {"function": {"name": "g"}}},
    {"messages": [{"role": "assistant", "content": None, "tool_calls": "x"}]},
    {"messages": [{"role": "assistant", "content": None, "tool_calls": [{"id": "c"}]}]},
]


@pytest.mark.parametrize("extra", BAD_TOOLS)
async def test_bad_tools_are_400_with_a_sentence_on_both_apis(asgi, extra):
    client = await asgi()
    body = {"model": "jarvis/auto", "messages": ASK, **extra}
    openai = await client.post("/v1/chat/completions", json=body)
    assert openai.status_code == 400, openai.text
    message = openai.json()["error"]["message"]
    assert message.endswith(".") and "\n" not in message and "Traceback" not in message
    ollama = await client.post("/api/chat", json=body)
    assert ollama.status_code == 400 and ollama.json()["error"] == message


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/v1/completions", {"prompt": "def f(", "suffix": 5}, "`suffix` must be a string"),
        ("/v1/completions", {"prompt": 5, "suffix": "x"}, "`prompt`"),
        ("/api/generate", {"prompt": "def f(", "suffix": ["x"]}, "must be strings"),
        # Falsy but not strings: were read as an empty prompt (a model load) or a raw-less generate.
        ("/api/generate", {"prompt": [], "suffix": "x"}, "must be strings"),
        ("/api/generate", {"prompt": "def f(", "raw": "yes"}, "`raw` must be true or false"),
        ("/infill", {"input_prefix": 5, "input_suffix": "x"}, "`input_prefix` must be a string"),
        ("/infill", {"input_prefix": "a", "input_suffix": "x", "n_predict": "8"}, "`n_predict`"),
    ],
)
async def test_bad_fim_bodies_are_400_with_a_sentence(asgi, path, body, words):
    client = await asgi()
    resp = await client.post(path, json={"model": "jarvis/code", **body})
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    message = error if isinstance(error, str) else error["message"]
    assert words in message and "\n" not in message
