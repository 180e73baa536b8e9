"""What reaches the backend and what a client without the right model hears: tools, tool_choice and an
agent's tool turns forwarded to an OpenAI-compatible server (one that streams calls exactly as OpenAI
does and keeps what it was sent); tools sent where they cannot go refused with one sentence; /api/show
and /v1/models listing "tools" for exactly the models that have it."""

from __future__ import annotations

import json

import httpx
import ollama
import openai
import pytest

from jarvis.app.config import CustomModelConfig
from tests.conftest import run_server
from tests.serve.conftest import EMBEDDED, make_config

pytestmark = pytest.mark.slow

SMOL = "ollama/smollm2:135m"
HUGE = "ollama/bigcoder:70b"
BOX = "box/toolbox-1"
PARAMS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": PARAMS}}
TIME = {
    "type": "function",
    "function": {"name": "get_time", "description": "Local time.", "parameters": PARAMS},
}


@pytest.fixture(scope="module")
def box_url():
    with run_server("tests.servers.openai_sse_tools", "/v1/models") as url:
        yield url


@pytest.fixture
def server(serve, ollama_url, box_url):
    # An OpenAI-compatible server says nothing about tools: the user's custom model entry does.
    custom = [CustomModelConfig(id=BOX, capabilities=["function_calling"])]
    return serve(make_config(ollama=ollama_url, endpoints={"box": box_url}, custom_models=custom))


def recorded(box_url: str) -> list[dict]:
    return httpx.get(box_url + "/recorded").json()


def test_calls_streamed_in_pieces_come_back_whole_and_tool_turns_reach_the_backend(server, box_url):
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    ask = [{"role": "user", "content": "Use get_weather and get_time for Lisbon"}]
    chunks = list(
        client.chat.completions.create(
            model=BOX, messages=ask, tools=[WEATHER, TIME], tool_choice="required", stream=True
        )
    )
    deltas = [d for c in chunks for ch in c.choices for d in ch.delta.tool_calls or ()]
    assert [(d.index, d.id, d.function.name) for d in deltas] == [
        (0, "call_tb0", "get_weather"),
        (1, "call_tb1", "get_time"),
    ]
    assert all(json.loads(d.function.arguments) == {"city": "Lisbon"} for d in deltas)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    sent = recorded(box_url)[-1]
    assert sent["tools"] == [WEATHER, TIME]
    assert sent["tool_choice"] == "required" and sent["stream"] is True

    # The agent runs both and sends the results back (OpenAI's shape: content null beside the calls).
    calls = [
        {
            "id": d.id,
            "type": "function",
            "function": {"name": d.function.name, "arguments": d.function.arguments},
        }
        for d in deltas
    ]
    turn = [
        *ask,
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": "call_tb0", "content": "rain"},
        {"role": "tool", "tool_call_id": "call_tb1", "content": "14:05"},
    ]
    reply = client.chat.completions.create(model=BOX, messages=turn, tools=[WEATHER, TIME])
    assert reply.choices[0].finish_reason == "stop" and reply.choices[0].message.content.startswith("Noted")
    sent = recorded(box_url)[-1]["messages"]
    assert sent[1] == {"role": "assistant", "content": "", "tool_calls": calls}
    assert sent[2:] == [
        {"role": "tool", "content": "rain", "tool_call_id": "call_tb0"},
        {"role": "tool", "content": "14:05", "tool_call_id": "call_tb1"},
    ]

    # An Ollama client's turns (no ids; results name their function) reach an OpenAI backend paired.
    ollama_turn = [
        *ask,
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Lisbon"}}}],
        },
        {"role": "tool", "tool_name": "get_weather", "content": "rain"},
    ]
    answer = ollama.Client(host=server.url).chat(
        model=BOX, messages=ollama_turn, tools=[WEATHER], stream=False
    )
    assert answer.message.content.startswith("Noted")
    sent = recorded(box_url)[-1]["messages"]
    made = sent[1]["tool_calls"][0]
    assert made["id"] and json.loads(made["function"]["arguments"]) == {"city": "Lisbon"}
    assert sent[2] == {"role": "tool", "content": "rain", "tool_call_id": made["id"]}


async def test_tools_where_they_cannot_go_are_refused_in_one_sentence(server):
    # 90 s: the first embedded call (it loads SmolLM2) can take more than 30 on a busy machine.
    async with httpx.AsyncClient(base_url=server.url, timeout=90) as client:
        ask = [{"role": "user", "content": "Use get_weather for Oslo"}]
        for model in (HUGE,):
            r = await client.post(
                "/v1/chat/completions", json={"model": model, "messages": ask, "tools": [WEATHER]}
            )
            assert r.status_code == 400, r.text
            message = r.json()["error"]["message"]
            assert f"{model} cannot call tools" in message and SMOL in message and BOX in message
            assert EMBEDDED in message  # a ChatML GGUF: llama-cpp-python's tool handler
            assert "\n" not in message and "Traceback" not in message
        r = await client.post("/api/chat", json={"model": HUGE, "messages": ask, "tools": [WEATHER]})
        assert r.status_code == 400 and r.json()["error"].startswith(f"{HUGE} does not support tools; ")
        r = await client.post(
            "/v1/chat/completions",
            json={"model": "jarvis/chain/default", "messages": ask, "tools": [WEATHER]},
        )
        assert r.status_code == 400 and "does not pass tools" in r.json()["error"]["message"]
        # jarvis/code picks among code models that can call tools: the embedded SmolLM2 alone (the
        # catalog calls it a code model; the Ollama one and the box are not).
        named = {"type": "function", "function": {"name": "get_weather"}}
        body = {
            "model": "jarvis/code",
            "messages": ask,
            "tools": [WEATHER],
            "tool_choice": named,
            "max_tokens": 30,
        }
        r = await client.post("/v1/chat/completions", json=body)
        assert r.status_code == 200 and r.headers["x-jarvis-model"] == EMBEDDED, r.text
        assert r.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
        bad = [
            ({"tools": {"name": "x"}}, "`tools` must be a list"),
            ({"tools": [{"type": "function", "function": {"description": "no name"}}]}, "needs a `name`"),
            (
                {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
                "'nope'",
            ),
            ({"tools": [WEATHER], "tool_choice": 3}, "`tool_choice` must be"),
        ]
        for extra, words in bad:
            r = await client.post("/v1/chat/completions", json={"model": SMOL, "messages": ask, **extra})
            assert r.status_code == 400 and words in r.json()["error"]["message"], (extra, r.text)
        broken_turn = [*ask, {"role": "assistant", "content": "", "tool_calls": [{"function": {}}]}]
        r = await client.post("/v1/chat/completions", json={"model": SMOL, "messages": broken_turn})
        assert r.status_code == 400 and "messages[1].tool_calls[0]" in r.json()["error"]["message"]
        # tool_choice "none": no call may be made, so the tools are not offered at all.
        for model in (BOX, EMBEDDED):
            body = {
                "model": model,
                "messages": ask,
                "tools": [WEATHER],
                "tool_choice": "none",
                "max_tokens": 4,
            }
            r = await client.post("/v1/chat/completions", json=body)
            assert r.status_code == 200 and r.headers["x-jarvis-model"] == model, r.text
            assert r.json()["choices"][0]["finish_reason"] in ("stop", "length")


def test_show_and_models_list_tools_for_exactly_the_capable_models(server):
    client = ollama.Client(host=server.url)
    names = (SMOL, HUGE, EMBEDDED, BOX, "jarvis/auto", "jarvis/code")
    has_tools = {m: "tools" in client.show(m).capabilities for m in names}
    assert has_tools == {
        SMOL: True,
        HUGE: False,
        EMBEDDED: True,
        BOX: True,
        "jarvis/auto": True,
        "jarvis/code": True,
    }
    listed = httpx.get(server.url + "/v1/models").json()["data"]
    with_tools = {m["id"] for m in listed if "tools" in m.get("capabilities", ())}
    assert with_tools == {SMOL, BOX, EMBEDDED}


def test_a_cloud_model_through_litellm_gets_tools_and_returns_calls(serve, box_url):
    from jarvis.app.config import CloudConfig

    cloud = CloudConfig(
        enabled=True, models=["openai/toolbox-1"], api_keys={"openai": "sk-test"}, api_base=box_url + "/v1"
    )
    custom = [CustomModelConfig(id="cloud/openai/toolbox-1", capabilities=["function_calling"])]
    server = serve(make_config(embedded=False, cloud=cloud, custom_models=custom))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    ask = [{"role": "user", "content": "Use get_time for Lima"}]
    for stream in (False, True):
        if stream:
            chunks = list(
                client.chat.completions.create(
                    model="cloud/openai/toolbox-1", messages=ask, tools=[TIME], stream=True
                )
            )
            deltas = [d for c in chunks for ch in c.choices for d in ch.delta.tool_calls or ()]
            assert [(d.index, d.id, d.function.name) for d in deltas] == [(0, "call_tb0", "get_time")]
            arguments = deltas[0].function.arguments
        else:
            reply = client.chat.completions.create(model="cloud/openai/toolbox-1", messages=ask, tools=[TIME])
            (call,) = reply.choices[0].message.tool_calls
            assert reply.choices[0].finish_reason == "tool_calls" and call.function.name == "get_time"
            arguments = call.function.arguments
        assert json.loads(arguments) == {"city": "Lima"}
        sent = recorded(box_url)[-1]
        assert sent["tools"] == [TIME] and sent["messages"] == ask
