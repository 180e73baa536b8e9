"""Real clients against a real `jarvis serve`: the official openai SDK (sync and async, stream and not),
the official ollama client (chat, generate, show, tags, embed) and litellm, with the Ollama test server
(SmolLM2), an embeddings server and the embedded model behind it. Every request lands in the ledger."""

from __future__ import annotations

import json

import httpx
import ollama
import openai
import pytest

from tests.serve.conftest import EMBEDDED, make_config, wait_for_row

pytestmark = pytest.mark.slow

SMOL = "ollama/smollm2:135m"
EMB = "emb/nomic-embed-text"
ASK = [{"role": "user", "content": "Say hello."}]


@pytest.fixture
def server(serve, ollama_url, embed_url):
    return serve(make_config(ollama=ollama_url, endpoints={"emb": embed_url}))


def test_openai_sdk_sync_stream_and_not(server):
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    ids = [m.id for m in client.models.list()]
    assert SMOL in ids and EMBEDDED in ids and "jarvis/auto" in ids and "jarvis/chain/default" in ids

    raw = client.chat.completions.with_raw_response.create(
        model=SMOL, messages=ASK, max_tokens=8, temperature=0
    )
    reply = raw.parse()
    assert reply.model == SMOL == raw.headers["x-jarvis-model"]
    assert raw.headers["x-jarvis-attempts"] == "1" and raw.headers["x-jarvis-fallbacks"] == ""
    assert reply.id == "chatcmpl-" + raw.headers["x-jarvis-run"]
    assert reply.choices[0].message.role == "assistant" and reply.choices[0].message.content
    assert reply.choices[0].finish_reason in ("stop", "length")
    u = reply.usage
    assert (
        u.prompt_tokens > 0
        and u.completion_tokens > 0
        and u.total_tokens == u.prompt_tokens + u.completion_tokens
    )

    chunks = list(
        client.chat.completions.create(
            model=SMOL,
            messages=ASK,
            max_tokens=8,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert len({c.id for c in chunks}) == 1 and len({c.created for c in chunks}) == 1

    done = client.completions.create(model=SMOL, prompt="The sky is", max_tokens=6, temperature=0)
    assert done.object == "text_completion" and done.choices[0].text and done.model == SMOL

    emb = client.embeddings.create(model=EMB, input=["one", "two"])
    assert [d.index for d in emb.data] == [0, 1] and len(emb.data[0].embedding) == 8
    assert emb.data[0].embedding != emb.data[1].embedding and emb.model == EMB

    row = wait_for_row(server.database, "SELECT * FROM runs WHERE id = ?", (raw.headers["x-jarvis-run"],))
    assert row["kind"] == "served" and row["requested_model"] == SMOL and row["http_status"] == 200
    assert row["client"].startswith("OpenAI/Python") and row["status"] == "completed"
    step = wait_for_row(server.database, "SELECT * FROM steps WHERE run_id = ?", (row["id"],))
    assert step["model_id"] == SMOL and step["status"] == "completed" and step["completion_tokens"] > 0
    req = wait_for_row(server.database, "SELECT * FROM requests WHERE run_id = ?", (row["id"],))
    assert req["status"] == "ok" and req["ttft_s"] is not None


async def test_openai_sdk_async_stream_and_not(server):
    client = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    reply = await client.chat.completions.create(model=EMBEDDED, messages=ASK, max_tokens=6, temperature=0)
    assert reply.model == EMBEDDED and reply.choices[0].message.content
    stream = await client.chat.completions.create(
        model=EMBEDDED, messages=ASK, max_tokens=6, temperature=0, stream=True
    )
    chunks = [c async for c in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.usage is None for c in chunks)  # no usage chunk unless asked for
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    await client.close()


def test_ollama_client_chat_generate_show_tags_embed(server):
    client = ollama.Client(host=server.url)
    names = [m.model for m in client.list().models]
    assert SMOL in names and "jarvis/auto" in names
    show = client.show(SMOL)
    assert "completion" in show.capabilities
    arch = show.modelinfo["general.architecture"]
    assert show.modelinfo[f"{arch}.context_length"] > 0

    chat = client.chat(model=SMOL, messages=ASK, options={"num_predict": 8, "temperature": 0})
    assert chat.done and chat.message.content and chat.model == SMOL
    assert chat.eval_count > 0 and chat.total_duration > 0 and chat.done_reason in ("stop", "length")

    parts = list(client.chat(model=SMOL, messages=ASK, stream=True, options={"num_predict": 8}))
    assert not parts[0].done and parts[-1].done and parts[-1].eval_duration > 0
    assert "".join(p.message.content for p in parts).strip()

    gen = client.generate(model=SMOL, prompt="Say hello.", options={"num_predict": 6})
    assert gen.done and gen.response
    streamed = list(client.generate(model=SMOL, prompt="Say hello.", stream=True, options={"num_predict": 6}))
    assert streamed[-1].done and streamed[-1].done_reason

    emb = client.embed(model=EMB, input=["a", "b"])
    assert len(emb.embeddings) == 2 and len(emb.embeddings[0]) == 8

    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model="no-such-model", messages=ASK)
    assert err.value.status_code == 404


def test_litellm_as_a_client(server):
    import litellm

    reply = litellm.completion(
        model=f"openai/{SMOL}",
        api_base=server.url + "/v1",
        api_key="unused",
        messages=ASK,
        max_tokens=6,
        temperature=0,
    )
    assert reply.choices[0].message.content
    assert reply.model.endswith(SMOL.split("/")[-1])
    pieces = litellm.completion(
        model=f"openai/{SMOL}",
        api_base=server.url + "/v1",
        api_key="unused",
        messages=ASK,
        max_tokens=6,
        stream=True,
    )
    assert "".join(p.choices[0].delta.content or "" for p in pieces).strip()


def test_raw_contract_of_a_stream(server):
    body = {"model": SMOL, "messages": ASK, "max_tokens": 6, "stream": True}
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body, timeout=60) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert resp.headers["x-jarvis-model"] == SMOL
        lines = [line for line in resp.iter_lines() if line]
    payloads = [line.removeprefix("data: ") for line in lines]
    assert all(line.startswith("data: ") for line in lines)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all("role" not in c["choices"][0]["delta"] for c in chunks[1:])
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    last = chunks[-1]["choices"][0]
    assert last["delta"] == {} and last["finish_reason"] in ("stop", "length")
    assert all("usage" not in c for c in chunks)
    assert len({(c["id"], c["created"], c["object"]) for c in chunks}) == 1
    assert chunks[0]["object"] == "chat.completion.chunk"
