"""The design documents' REST API against a real engine (the Ollama test server generating with SmolLM2,
a loopback embeddings server): health, models (list, get, register), chat, completion, embeddings,
feedback through `jarvis rate`'s code path, performance with trends, reset, cancel by id, and one
sentence with a 4xx for bad input."""

from __future__ import annotations

import asyncio
import tomllib

import httpx
import pytest
from starlette.applications import Starlette

from jarvis.app.config import Config, EmbeddedConfig, LMStudioConfig, OllamaConfig, OllamaHost, OpenAIEndpoint
from jarvis.app.engine import build_engine
from jarvis.app.paths import resolve_paths
from jarvis.app.serve.design_api import design_routes
from jarvis.chains.bus import FeedbackReceived
from jarvis.chains.router import Limit

pytestmark = pytest.mark.slow

SMOL = "ollama/smollm2:135m"


def config(ollama_url: str, embed_url: str | None = None) -> Config:
    return Config(
        ollama=OllamaConfig(hosts=[OllamaHost(url=ollama_url)]),
        lmstudio=LMStudioConfig(enabled=False),
        embedded=EmbeddedConfig(enabled=False),
        openai_endpoints=[OpenAIEndpoint(name="emb", url=embed_url)] if embed_url else [],
    )


@pytest.fixture
async def api(ollama_url, embed_url):
    """(client, engine): the REST API on an engine that is built but not yet started."""
    engine = build_engine(config(ollama_url, embed_url), resolve_paths())
    app = Starlette(routes=design_routes(engine))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")
    yield client, engine
    await client.aclose()
    await engine.close()


def sentence(response: httpx.Response) -> str:
    text = response.json()["error"]
    assert text[0].isupper() and text.rstrip().endswith((".", ")")), text
    return text


async def test_health_is_503_until_the_registry_is_ready_then_models_list_and_get(api):
    client, engine = api
    early = await client.get("/health")
    assert early.status_code == 503 and early.headers["retry-after"] == "1"
    assert "not ready" in sentence(early)
    await engine.start()
    ready = await client.get("/health")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok" and ready.json()["models"] >= 2
    assert (ready.json()["in_flight"], ready.json()["queued"]) == (0, 0)

    listed = (await client.get("/api/models")).json()
    assert SMOL in [m["id"] for m in listed["models"]]
    one = await client.get(f"/api/models/{SMOL}")  # the id's slash and colon stay in the path
    assert one.status_code == 200 and one.json()["provider"] == "ollama"
    assert (await client.get("/api/models/smollm2:135m")).json()["id"] == SMOL  # a bare name, as editors send
    missing = await client.get("/api/models/ollama/nope:1b")
    assert missing.status_code == 404 and "GET /api/models" in sentence(missing)


async def test_register_a_model_saves_it_to_the_config_file_and_lists_it(api):
    client, engine = api
    await engine.start()
    body = {"id": "ollama/my-finetune:latest", "capabilities": ["chat", "code"], "context_length": 8192}
    made = await client.post("/api/models", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["model"]["id"] == "ollama/my-finetune:latest"
    saved = tomllib.loads(engine.paths.config_file.read_text())
    assert saved["custom_models"][0]["context_length"] == 8192
    listed = [m["id"] for m in (await client.get("/api/models")).json()["models"]]
    assert "ollama/my-finetune:latest" in listed
    again = await client.post("/api/models", json=body)
    assert again.status_code == 409 and "already registered" in again.json()["error"]
    bad = await client.post("/api/models", json={"id": "ollama/x", "capabilities": ["telepathy"]})
    assert bad.status_code == 400 and "Unknown capability telepathy" in bad.json()["error"]
    no_id = await client.post("/api/models", json={"capabilities": ["chat"]})
    assert no_id.status_code == 400 and "provider/name" in no_id.json()["error"]


async def test_chat_completion_feedback_performance_and_reset(api):
    client, engine = api
    await engine.start()
    heard: list[FeedbackReceived] = []
    engine.bus.subscribe(FeedbackReceived, heard.append)
    chat = await client.post(
        f"/api/models/{SMOL}/chat",
        json={"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8, "seed": 1},
    )
    assert chat.status_code == 200, chat.text
    answer = chat.json()
    assert answer["model"] == SMOL and answer["message"]["role"] == "assistant"
    assert answer["message"]["content"].strip()
    assert answer["usage"]["completion_tokens"] >= 1 and answer["id"].startswith("run_")
    assert chat.headers["x-jarvis-run"] == answer["id"] and chat.headers["x-jarvis-model"] == SMOL

    done = await client.post(f"/api/models/{SMOL}/completion", json={"prompt": "1, 2, 3,", "max_tokens": 6})
    assert done.status_code == 200 and done.json()["text"].strip()
    assert done.json()["usage"]["prompt_tokens"] >= 1

    rated = await client.post("/api/feedback", json={"target": answer["id"], "score": 4, "comment": "ok"})
    assert rated.status_code == 201, rated.text
    assert rated.json()["feedback"]["model_id"] == SMOL and rated.json()["feedback"]["score"] == 4
    assert [(e.target_id, e.score, e.model_id) for e in heard] == [(answer["id"], 4, SMOL)]
    await engine.ledger.flush()
    stored = await engine.ledger.call_fn(
        lambda led: [r["type"] for r in led.db["events"].rows_where("run_id = ?", [answer["id"]])]
    )
    assert "model.feedback.received" in stored
    too_high = await client.post(f"/api/models/{SMOL}/feedback", json={"target": answer["id"], "score": 9})
    assert too_high.status_code == 400 and "1 to 5" in sentence(too_high)
    unknown = await client.post("/api/feedback", json={"target": "run_nope", "score": 3})
    assert unknown.status_code == 404 and "jarvis history" in sentence(unknown)

    perf = (await client.get(f"/api/models/{SMOL}/performance")).json()
    assert perf["model"] == SMOL
    [row] = [r for r in perf["performance"] if r["model"] == SMOL]
    assert row["requests"] == 2 and row["successes"] == 2 and row["rating_mean"] is not None
    assert set(perf["trends"]) == {"daily", "weekly", "monthly"}
    for period in perf["trends"].values():
        assert sum(t["requests"] for t in period if t["model"] == SMOL) == 2
    everyone = (await client.get("/api/performance")).json()
    assert "leaderboard" in everyone and any(r["model"] == SMOL for r in everyone["performance"])

    reset = await client.post(f"/api/models/{SMOL}/performance/reset", json={})
    assert reset.status_code == 200 and reset.json() == {"model": SMOL, "task_type": "*", "reset": True}
    after = (await client.get(f"/api/models/{SMOL}/performance")).json()
    assert [r for r in after["performance"] if r["model"] == SMOL and r["requests"]] == []


async def test_bad_input_gets_a_4xx_and_one_sentence(api):
    client, engine = api
    await engine.start()
    url = f"/api/models/{SMOL}/chat"
    not_json = await client.post(url, content=b"{nope", headers={"content-type": "application/json"})
    assert not_json.status_code == 400 and "not JSON" in sentence(not_json)
    no_messages = await client.post(url, json={"max_tokens": 5})
    assert no_messages.status_code == 400 and '"messages"' in no_messages.json()["error"]
    bad_role = await client.post(url, json={"messages": [{"role": "wizard", "content": "hi"}]})
    assert bad_role.status_code == 400 and "messages[0]" in bad_role.json()["error"]
    bad_option = await client.post(
        url, json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": -1}
    )
    assert bad_option.status_code == 400 and "max_tokens" in bad_option.json()["error"]
    no_prompt = await client.post(f"/api/models/{SMOL}/completion", json={"prompt": ""})
    assert no_prompt.status_code == 400
    no_model = await client.post("/api/models/ollama/nope:1b/chat", json={"messages": []})
    assert no_model.status_code == 404
    a_list = await client.post("/api/feedback", json=[1, 2])
    assert a_list.status_code == 400 and "JSON object" in sentence(a_list)
    vote = await client.post("/api/feedback", json={"compare_id": "cmp_nope", "winner": "A"})
    assert vote.status_code == 404 and "comparison" in vote.json()["error"]


async def test_embeddings(api):
    client, engine = api
    await engine.start()
    got = await client.post("/api/models/emb/nomic-embed-text/embeddings", json={"input": ["a", "b"]})
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["model"] == "emb/nomic-embed-text" and len(body["embeddings"]) == 2
    assert len(body["embeddings"][0]) == 8 and body["embeddings"][0] != body["embeddings"][1]
    bad = await client.post("/api/models/emb/nomic-embed-text/embeddings", json={"input": 3})
    assert bad.status_code == 400 and '"input"' in bad.json()["error"]
    # Embeddings take the backend's slot too: with it held and no room to wait, 429 and a Retry-After.
    engine.router.limits = {"emb": Limit(per_model=1)}
    engine.router.queue_size = 0
    held = await engine.router.acquire(engine.registry.get("emb/nomic-embed-text"))
    full = await client.post("/api/models/emb/nomic-embed-text/embeddings", json={"input": "a"})
    held.release()
    assert full.status_code == 429 and int(full.headers["retry-after"]) >= 1
    assert "Try again in" in sentence(full)


async def test_a_running_request_is_cancelled_by_its_id(api):
    client, engine = api
    await engine.start()
    long = asyncio.create_task(
        client.post(
            f"/api/models/{SMOL}/chat",
            json={"messages": [{"role": "user", "content": "Count to one thousand."}], "max_tokens": 400},
            headers={"X-Request-Id": "req-long"},
        )
    )
    for _ in range(200):
        cancel = await client.post("/api/requests/req-long/cancel")
        if cancel.status_code == 202:
            break
        await asyncio.sleep(0.02)
    assert cancel.status_code == 202 and cancel.json()["cancelled"] == "req-long"
    answered = await asyncio.wait_for(long, 30)
    assert answered.status_code == 499 and "cancelled" in sentence(answered)
    assert engine.router.load().in_flight == 0
    gone = await client.delete("/api/requests/req-long")
    assert gone.status_code == 404 and "No request with id req-long" in sentence(gone)


async def test_a_request_through_the_openai_or_ollama_api_is_cancelled_by_its_run_id(ollama_url):
    # Mounted together, the REST API's cancel finds requests from every API (by their X-Jarvis-Run).
    from jarvis.app.serve.server import ServeSettings, build_app

    engine = await build_engine(config(ollama_url), resolve_paths()).start()
    app = build_app(engine, ServeSettings(heartbeat_s=0))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")
    try:
        for path, body in (
            ("/v1/chat/completions", {"max_tokens": 400}),
            ("/api/chat", {"stream": False, "options": {"num_predict": 400}}),
        ):
            ask = {"model": SMOL, "messages": [{"role": "user", "content": "Count to one thousand."}]}
            long = asyncio.create_task(client.post(path, json={**ask, **body}))
            for _ in range(500):
                running = [r.run_id for r in app.state.gateway.running if r.run_id]
                if running:
                    break
                await asyncio.sleep(0.02)
            assert running, f"{path} never started"
            cancel = await client.post(f"/api/requests/{running[0]}/cancel")
            assert cancel.status_code == 202 and cancel.json()["id"] == running[0]
            answer = await asyncio.wait_for(long, 60)
            assert answer.status_code == 499, answer.text
            assert app.state.gateway.running == []
            gone = await client.post(f"/api/requests/{running[0]}/cancel")
            assert gone.status_code == 404
    finally:
        await client.aclose()
        await engine.close()
