"""The Ollama test server must speak exactly as Ollama does: checked against the official client's types."""

from __future__ import annotations

import json

import httpx
import pytest
from ollama import ChatResponse, GenerateResponse, ListResponse, ProcessResponse, ShowResponse


@pytest.fixture(scope="module")
def http(ollama_url):
    with httpx.Client(base_url=ollama_url, timeout=60) as client:
        yield client


def ndjson(resp: httpx.Response) -> list[dict]:
    assert resp.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in resp.text.splitlines() if line]


def test_tags_show_ps_validate(http):
    tags = ListResponse.model_validate(http.get("/api/tags").json())
    names = [m.model for m in tags.models]
    assert "smollm2:135m" in names
    show = ShowResponse.model_validate(http.post("/api/show", json={"model": "smollm2:135m"}).json())
    assert show.modelinfo["general.architecture"] == "llama"
    assert show.modelinfo["llama.context_length"] == 8192
    assert "completion" in show.capabilities
    http.post(
        "/api/chat",
        json={
            "model": "smollm2:135m",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": False,
            "options": {"num_predict": 2},
        },
    )
    ps = ProcessResponse.model_validate(http.get("/api/ps").json())
    assert ps.models[0].model == "smollm2:135m" and ps.models[0].size > 0


def test_chat_stream_is_ndjson_with_ns_durations_and_omitted_zeros(http):
    hi = [{"role": "user", "content": "Say hi"}]
    resp = http.post(
        "/api/chat",
        json={"model": "smollm2:135m", "messages": hi, "options": {"num_predict": 6, "temperature": 0}},
    )
    lines = ndjson(resp)
    parts = [ChatResponse.model_validate(line) for line in lines]
    assert all(not p.done for p in parts[:-1]) and parts[-1].done
    assert parts[-1].done_reason == "length"
    assert parts[-1].eval_count == 6
    last = lines[-1]
    assert isinstance(last["total_duration"], int) and last["total_duration"] > 1_000_000  # nanoseconds
    # A warm model has no load time: Go's omitempty drops the field entirely.
    assert "load_duration" not in last
    assert all("done_reason" not in line for line in lines[:-1])


def test_generate_stream_validates(http):
    resp = http.post(
        "/api/generate", json={"model": "smollm2:135m", "prompt": "Say hi", "options": {"num_predict": 3}}
    )
    parts = [GenerateResponse.model_validate(line) for line in ndjson(resp)]
    assert parts[-1].done and "".join(p.response for p in parts)


def test_missing_model_is_404_with_error_body(http):
    resp = http.post("/api/chat", json={"model": "nope", "messages": []})
    assert resp.status_code == 404
    assert resp.json() == {"error": 'model "nope" not found, try pulling it first'}


def test_oom_is_500_with_ollama_wording(http):
    resp = http.post(
        "/api/chat", json={"model": "bigcoder:70b", "messages": [{"role": "user", "content": "x"}]}
    )
    assert resp.status_code == 500
    assert "requires more system memory" in resp.json()["error"]


def test_silent_truncation_trap(http):
    """A prompt longer than num_ctx is answered with 200; only prompt_eval_count shows the cut."""
    long = "The quick brown fox jumps over the lazy dog. " * 200  # ~2,000 tokens
    messages = [{"role": "user", "content": long}]
    resp = http.post(
        "/api/chat",
        json={
            "model": "smollm2:135m",
            "messages": messages,
            "stream": False,
            "options": {"num_ctx": 512, "num_predict": 1},
        },
    )
    assert resp.status_code == 200
    assert resp.json()["prompt_eval_count"] < 512


# -- lifecycle: pull, delete, copy, ps and keep_alive (server/routes.go, api/types.go) -------------


def test_pull_streams_progress_then_success_and_lists_the_model(http):
    from ollama import ProgressResponse

    name = "fake-fidelity:1b-size2m-rate64m"
    lines = ndjson(http.post("/api/pull", json={"model": name}))
    parts = [ProgressResponse.model_validate(line) for line in lines]
    assert parts[0].status == "pulling manifest" and parts[-1].status == "success"
    layer = [p for p in parts if p.digest]
    assert layer[0].status == f"pulling {layer[0].digest[7:19]}" and layer[0].digest.startswith("sha256:")
    assert all(p.total == 2 * 1024 * 1024 for p in layer)
    completed = [p.completed or 0 for p in layer]
    assert completed == sorted(completed) and completed[-1] == layer[-1].total
    # The first progress line has nothing done yet: Go's omitempty drops "completed".
    assert "completed" not in lines[1]
    assert [p.status for p in parts[-3:]] == ["verifying sha256 digest", "writing manifest", "success"]
    names = [m.model for m in ListResponse.model_validate(http.get("/api/tags").json()).models]
    assert f"{name}" in names


def test_pull_of_an_unknown_model_fails_under_200_and_non_stream_is_500(http):
    resp = http.post("/api/pull", json={"model": "no-such-model:1b"})
    assert resp.status_code == 200
    assert ndjson(resp)[-1] == {"error": "pull model manifest: file does not exist"}
    resp = http.post("/api/pull", json={"model": "no-such-model:1b", "stream": False})
    assert resp.status_code == 500 and resp.json() == {"error": "pull model manifest: file does not exist"}


def test_pull_cut_midway_is_not_listed_and_resumes(http):
    name = "fake-fidelity:cut-size4m-rate64m-fail50"
    lines = ndjson(http.post("/api/pull", json={"model": name}))
    assert "error" in lines[-1] and "success" not in [line.get("status") for line in lines]
    reached = max(line.get("completed", 0) for line in lines)
    names = [m.model for m in ListResponse.model_validate(http.get("/api/tags").json()).models]
    assert name not in names
    again = ndjson(http.post("/api/pull", json={"model": name}))
    first_layer = next(line for line in again if "digest" in line)
    assert first_layer["completed"] == reached  # resumed, as Ollama resumes from the partial blob
    assert again[-1] == {"status": "success"}


def test_delete_and_copy(http):
    assert http.request("DELETE", "/api/delete", json={"model": "nope:1b"}).json() == {
        "error": "model 'nope:1b' not found"
    }
    assert http.post("/api/copy", json={"source": "nope:1b", "destination": "x:1"}).status_code == 404
    assert (
        http.post("/api/copy", json={"source": "smollm2:135m", "destination": "mine:copy"}).status_code == 200
    )
    names = [m.model for m in ListResponse.model_validate(http.get("/api/tags").json()).models]
    assert "mine:copy" in names
    resp = http.request("DELETE", "/api/delete", json={"model": "mine:copy"})
    assert resp.status_code == 200 and resp.text == ""
    assert http.request("DELETE", "/api/delete", json={"model": "mine:copy"}).status_code == 404


def test_empty_generate_loads_and_keep_alive_zero_unloads(http):
    assert (
        http.post("/api/copy", json={"source": "smollm2:135m", "destination": "keep:alive"}).status_code
        == 200
    )
    resp = http.post("/api/generate", json={"model": "keep:alive", "keep_alive": "1h"})
    # Answered as one JSON object even though stream defaults to true.
    assert resp.headers["content-type"].startswith("application/json")
    answer = GenerateResponse.model_validate(resp.json())
    assert answer.done and answer.done_reason == "load" and answer.response == ""
    ps = ProcessResponse.model_validate(http.get("/api/ps").json())
    entry = next(m for m in ps.models if m.model == "keep:alive")
    assert entry.size > 0 and entry.size_vram == 0 and entry.context_length == 4096
    assert entry.details.family == "llama"
    assert 3000 < (entry.expires_at.timestamp() - __import__("time").time()) <= 3600
    forever = http.post("/api/chat", json={"model": "keep:alive", "messages": [], "keep_alive": -1}).json()
    assert forever["done_reason"] == "load" and forever["message"] == {"role": "assistant", "content": ""}
    ps = ProcessResponse.model_validate(http.get("/api/ps").json())
    assert next(m for m in ps.models if m.model == "keep:alive").expires_at.year > 2200
    gone = http.post("/api/generate", json={"model": "keep:alive", "keep_alive": 0}).json()
    assert gone["done_reason"] == "unload"
    ps = ProcessResponse.model_validate(http.get("/api/ps").json())
    assert "keep:alive" not in [m.model for m in ps.models]
    bad = http.post("/api/generate", json={"model": "keep:alive", "keep_alive": "soon"})
    assert bad.status_code == 400 and "invalid duration" in bad.json()["error"]
    http.request("DELETE", "/api/delete", json={"model": "keep:alive"})
