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
