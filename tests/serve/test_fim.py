"""Fill-in-the-middle through `jarvis serve` with real clients: the openai SDK's
`completions.create(prompt=, suffix=)` and the ollama client's `generate(prompt=, suffix=)` reach the
backend as a FIM request (checked at the Ollama test server: it saw the FIM token sequence, not a chat
template); a model without FIM gets a 400 sentence and the backend never hears of it; jarvis/auto with a
suffix picks an insert-capable model; stop sequences end the middle; the ledger has a "fim" row. And the
OpenAI-compatible provider's raw FIM prompt, at llama.cpp's server."""

from __future__ import annotations

import httpx
import ollama
import openai
import pytest

from jarvis.providers.openai_compat import OpenAICompatProvider
from jarvis.providers.types import GenerationOptions, Infill
from tests.conftest import run_server
from tests.serve.conftest import EMBEDDED, make_config, sse_events, wait_for_row

pytestmark = pytest.mark.slow

CODER = "fim-coder:135m"  # insert-capable on the test server (its template has .Suffix)
FIM_ID = "ollama/" + CODER
SMOL = "ollama/smollm2:135m"  # no insert capability
PREFIX = "def add(a, b):\n    return "
SUFFIX = "\n\nprint(add(1, 2))\n"
FIM_TEXT = f"<|fim_prefix|>{PREFIX}<|fim_suffix|>{SUFFIX}<|fim_middle|>"


@pytest.fixture(scope="module")
def coder_ollama(model_path):
    """The Ollama test server with one insert-capable model besides its usual ones."""
    with run_server(
        "tests.servers.ollama_server", "/", "--model", str(model_path), "--insert-model", CODER
    ) as url:
        yield url


@pytest.fixture
def server(serve, coder_ollama):
    return serve(make_config(ollama=coder_ollama))


def heard(url: str) -> list[dict]:
    return httpx.get(url + "/test/prompts", timeout=10).json()["prompts"]


def test_openai_sdk_suffix_reaches_ollama_as_fim(server, coder_ollama):
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    raw = client.completions.with_raw_response.create(
        model=FIM_ID, prompt=PREFIX, suffix=SUFFIX, max_tokens=8, temperature=0
    )
    done = raw.parse()
    assert done.object == "text_completion" and done.model == FIM_ID == raw.headers["x-jarvis-model"]
    assert isinstance(done.choices[0].text, str) and done.choices[0].finish_reason in ("stop", "length")
    u = done.usage
    assert u.prompt_tokens > 0 and u.total_tokens == u.prompt_tokens + u.completion_tokens
    last = heard(coder_ollama)[-1]
    # At the backend: the template's FIM branch around prefix and suffix, no chat turn markers.
    assert last["model"] == CODER and last["suffix"] == SUFFIX and not last["raw"]
    assert last["prompt"] == FIM_TEXT and "<|im_start|>" not in last["prompt"]

    run = raw.headers["x-jarvis-run"]
    row = wait_for_row(server.database, "SELECT * FROM requests WHERE run_id = ?", (run,))
    assert row["task_type"] == "fim" and row["model_id"] == FIM_ID and row["status"] == "ok"
    step = wait_for_row(server.database, "SELECT * FROM steps WHERE run_id = ?", (run,))
    assert step["output"] == done.choices[0].text

    # Streamed: text_completion chunks with the middle, then a finish reason.
    before = len(heard(coder_ollama))
    chunks = list(
        client.completions.create(
            model=FIM_ID, prompt=PREFIX, suffix=SUFFIX, max_tokens=8, temperature=0.7, seed=3, stream=True
        )
    )
    assert chunks and all(c.object == "text_completion" for c in chunks)
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    assert "".join(c.choices[0].text for c in chunks).strip()
    assert heard(coder_ollama)[before:][0]["prompt"] == FIM_TEXT


def test_ollama_client_generate_with_suffix(server, coder_ollama):
    client = ollama.Client(host=server.url)
    before = len(heard(coder_ollama))
    reply = client.generate(
        model=FIM_ID, prompt=PREFIX, suffix=SUFFIX, options={"num_predict": 8, "temperature": 0}
    )
    assert reply.done and reply.done_reason in ("stop", "length") and reply.eval_count
    assert isinstance(reply.response, str)
    parts = list(
        client.generate(
            model=FIM_ID, prompt=PREFIX, suffix=SUFFIX, stream=True, options={"num_predict": 6, "seed": 1}
        )
    )
    assert parts[-1].done and "".join(p.response for p in parts).strip()
    seen = heard(coder_ollama)[before:]
    assert [h["prompt"] for h in seen] == [FIM_TEXT, FIM_TEXT]


def test_model_without_fim_is_refused_before_the_backend(server, coder_ollama):
    before = len(heard(coder_ollama))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    for model in (SMOL, EMBEDDED):
        with pytest.raises(openai.BadRequestError) as caught:
            client.completions.create(model=model, prompt=PREFIX, suffix=SUFFIX, max_tokens=4)
        message = caught.value.body["message"]
        assert message.startswith(f"{model} cannot fill in the middle") and "\n" not in message

    with pytest.raises(ollama.ResponseError) as refused:
        ollama.Client(host=server.url).generate(model=SMOL, prompt=PREFIX, suffix=SUFFIX)
    assert refused.value.status_code == 400
    # Ollama's own words, which clients match.
    assert refused.value.error == "registry.ollama.ai/ollama/smollm2:135m does not support insert"
    assert len(heard(coder_ollama)) == before


def test_auto_with_a_suffix_picks_an_insert_capable_model(server, coder_ollama):
    client = httpx.Client(base_url=server.url, timeout=120)
    for _ in range(2):
        resp = client.post(
            "/v1/completions",
            json={"model": "jarvis/auto", "prompt": PREFIX, "suffix": SUFFIX, "max_tokens": 4, "seed": 5},
        )
        assert resp.status_code == 200, resp.text
        assert resp.headers["x-jarvis-model"] == FIM_ID == resp.json()["model"]
    streamed = client.post(
        "/api/generate",
        json={"model": "jarvis/code", "prompt": PREFIX, "suffix": SUFFIX, "options": {"num_predict": 4}},
    )
    assert streamed.status_code == 200 and streamed.headers["x-jarvis-model"] == FIM_ID
    assert heard(coder_ollama)[-1]["prompt"] == FIM_TEXT


def test_stop_sequences_end_the_middle(server):
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    ask = {"model": FIM_ID, "prompt": PREFIX, "suffix": SUFFIX, "max_tokens": 24, "temperature": 0}
    whole = client.completions.create(**ask).choices[0].text
    # A stop string from inside the greedy middle: the same request with it ends just before it.
    cut = next(
        (
            i
            for i in range(2, len(whole) - 2)
            if whole[:i].strip() and whole[i:].strip() and whole.find(whole[i : i + 2]) == i
        ),
        None,
    )
    assert cut is not None, f"the middle {whole!r} has no usable stop point"
    stop = whole[cut : cut + 2]
    stopped = client.completions.create(**ask, stop=[stop])
    assert stopped.choices[0].text == whole[:cut]
    assert stopped.choices[0].finish_reason == "stop"

    body = httpx.post(
        server.url + "/v1/completions", json={**ask, "stop": stop, "stream": True}, timeout=120
    ).text
    events = [e for e in sse_events(body) if isinstance(e, dict)]
    assert "".join(e["choices"][0]["text"] for e in events) == whole[:cut]


class Recording(httpx.AsyncHTTPTransport):
    """The real transport, keeping each request body (what the server was sent)."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(request.content)
        return await super().handle_async_request(request)


async def test_openai_compatible_server_gets_the_family_template_as_a_raw_prompt(openai_url):
    import json

    recording = Recording()
    # llama-cpp-python's server answers with its one model whatever `model` names: a Qwen2.5-Coder name
    # makes the provider use that family's template (SmolLM2 reads the FIM tokens as plain text).
    provider = OpenAICompatProvider("llamacpp", openai_url, transport=recording)
    try:
        infill = Infill(PREFIX, SUFFIX)
        chunks = [
            c
            async for c in provider.stream_infill(
                "qwen2.5-coder-1.5b", infill, GenerationOptions(max_tokens=6, temperature=0, stop=("zz",))
            )
        ]
    finally:
        await provider.close()
    sent = json.loads(recording.bodies[-1])
    assert sent["prompt"] == FIM_TEXT and "suffix" not in sent and "messages" not in sent
    assert sent["stop"][0] == "zz" and "<|fim_pad|>" in sent["stop"]
    final = chunks[-1]
    assert final.text == "".join(c.text for c in chunks[:-1]) and final.finish_reason in ("stop", "length")
    assert final.completion_tokens > 0


def test_raw_prompts_go_raw(server, coder_ollama):
    """Editors that build FIM prompts themselves send them raw: Ollama's `raw`, or a legacy completion
    without a suffix. The backend gets the prompt as it is, no chat template."""
    own = f"<fim_prefix>{PREFIX}<fim_suffix>{SUFFIX}<fim_middle>"
    before = len(heard(coder_ollama))
    reply = ollama.Client(host=server.url).generate(
        model=SMOL, prompt=own, raw=True, options={"num_predict": 4, "temperature": 0}
    )
    assert reply.done and reply.model == SMOL
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    done = client.completions.create(model=SMOL, prompt="The sky is", max_tokens=4, temperature=0)
    assert done.choices[0].text and done.model == SMOL
    seen = heard(coder_ollama)[before:]
    assert [(h["prompt"], h["raw"]) for h in seen] == [(own, True), ("The sky is", True)]

    # The embedded model too: a raw prompt of 4 tokens, not SmolLM2's chat template around it (~30).
    raw = client.completions.with_raw_response.create(
        model=EMBEDDED, prompt="The sky is", max_tokens=4, temperature=0
    )
    assert raw.parse().usage.prompt_tokens <= 5
    row = wait_for_row(
        server.database, "SELECT * FROM requests WHERE run_id = ?", (raw.headers["x-jarvis-run"],)
    )
    assert row["task_type"] == "completion" and row["model_id"] == EMBEDDED


def test_show_tells_editors_which_models_take_a_suffix(server):
    client = httpx.Client(base_url=server.url, timeout=30)
    for model in (FIM_ID, "jarvis/auto"):
        shown = client.post("/api/show", json={"model": model}).json()
        # Continue sends suffixes to a model whose template has ".Suffix"; others read "insert".
        assert ".Suffix" in shown["template"] and "insert" in shown["capabilities"], model
    plain = client.post("/api/show", json={"model": SMOL}).json()
    assert ".Suffix" not in plain["template"] and "insert" not in plain["capabilities"]


def test_llama_cpp_infill_endpoint_for_llama_vscode(server, coder_ollama):
    """llama.vscode and llama.vim ask llama.cpp's /infill: input_prefix, the cursor's line so far as
    `prompt`, input_suffix; no model named (jarvis/code picks a FIM model)."""
    client = httpx.Client(base_url=server.url, timeout=120)
    ask = {
        "input_prefix": "def add(a, b):\n",
        "prompt": "    return ",
        "input_suffix": SUFFIX,
        "input_extra": [{"filename": "util.py", "text": "X = 1\n"}],
        "n_predict": 8,
        "temperature": 0,
        "cache_prompt": True,
        "t_max_predict_ms": 500,
    }
    before = len(heard(coder_ollama))
    warm = client.post("/infill", json={**ask, "n_predict": 0})  # its cache warm-up: nothing runs
    assert warm.status_code == 200 and warm.json()["content"] == ""
    assert len(heard(coder_ollama)) == before
    done = client.post("/infill", json=ask)
    assert done.status_code == 200, done.text
    doc = done.json()
    assert isinstance(doc["content"], str) and doc["stop"] is True and doc["stop_type"] in ("eos", "limit")
    assert doc["model"] == FIM_ID == done.headers["x-jarvis-model"]
    assert doc["timings"]["predicted_n"] == doc["tokens_predicted"] > 0 and doc["timings"]["prompt_n"] > 0
    assert heard(coder_ollama)[-1]["prompt"] == FIM_TEXT

    streamed = client.post("/infill", json={**ask, "stream": True, "temperature": 0.5})
    events = sse_events(streamed.text)
    assert events[-1]["stop"] is True and all(e["stop"] is False for e in events[:-1])
    assert "".join(e["content"] for e in events).strip()

    # The cursor at the end of the file: Ollama would read an empty suffix as none (a chat template).
    end = client.post("/infill", json={**ask, "input_suffix": ""})
    assert end.status_code == 200 and heard(coder_ollama)[-1]["suffix"] == "\n"

    refused = client.post("/infill", json={**ask, "model": SMOL})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == 400
    assert "cannot fill in the middle" in refused.json()["error"]["message"]
