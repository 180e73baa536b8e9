"""Who may use `jarvis serve`, and bad requests: token, Host (DNS rebinding), CORS, malformed bodies,
unknown models; each refusal in the shape of the API it was sent to, as one sentence. In-process (ASGI):
no model runs."""

from __future__ import annotations

from jarvis.app.cli import main
from jarvis.app.exit_codes import EXIT_USAGE
from jarvis.app.serve.security import host_name, startup_problem
from jarvis.app.serve.server import ServeSettings

CHAT = {"model": "jarvis/auto", "messages": [{"role": "user", "content": "hi"}]}


async def test_wrong_or_missing_token_is_401_in_each_apis_shape(asgi):
    client = await asgi(ServeSettings(token="s3cret"))
    wrong = await client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    err = wrong.json()["error"]
    assert err["type"] == "authentication_error" and err["code"] == "invalid_api_key"
    assert "wrong token" in err["message"] and "s3cret" not in wrong.text
    missing = await client.get("/api/tags")
    assert missing.status_code == 401
    assert "no token" in missing.json()["error"]  # Ollama's shape: a string
    ok = await client.get("/api/tags", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200


async def test_dns_rebinding_host_is_refused_and_local_names_pass(asgi):
    client = await asgi()
    evil = await client.get("/v1/models", headers={"Host": "attacker.example:11435"})
    assert evil.status_code == 403
    assert "attacker.example" in evil.json()["error"]["message"]
    for host in ("localhost:11435", "127.0.0.1:11435", "[::1]:11435"):
        assert (await client.get("/api/version", headers={"Host": host})).status_code == 200, host


async def test_allowed_host_passes(asgi):
    client = await asgi(ServeSettings(allowed_hosts=("devbox.lan",)))
    assert (await client.get("/api/version", headers={"Host": "devbox.lan:11435"})).status_code == 200


def test_off_loopback_needs_a_token():
    assert startup_problem("127.0.0.1", None) is None
    assert startup_problem("::1", None) is None
    problem = startup_problem("0.0.0.0", None)
    assert problem is not None and "--token" in problem
    assert startup_problem("0.0.0.0", "t") is None
    assert host_name("[::1]:8080") == "::1" and host_name("LocalHost:1") == "localhost"


def test_cli_refuses_to_serve_off_loopback_without_a_token(capsys):
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("jarvis: Refusing to serve on 0.0.0.0 without a token") and err.count("\n") == 1


async def test_cors_preflight_and_exposed_headers(asgi):
    client = await asgi(ServeSettings(cors_origins=("http://localhost:3000",)))
    pre = await client.options(
        "/v1/chat/completions",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "POST" in pre.headers["access-control-allow-methods"]
    got = await client.get("/v1/models", headers={"Origin": "http://localhost:3000"})
    exposed = got.headers["access-control-expose-headers"]
    for name in ("X-Jarvis-Model", "X-Jarvis-Attempts", "X-Jarvis-Fallbacks", "X-Jarvis-Run"):
        assert name in exposed
    other = await client.options(
        "/v1/models", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers


async def test_malformed_bodies_are_400_with_a_sentence(asgi):
    client = await asgi()
    bad_json = await client.post(
        "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["error"]["type"] == "invalid_request_error"
    assert bad_json.json()["error"]["message"].startswith("The request body is not valid JSON")
    no_messages = await client.post("/v1/chat/completions", json={"model": "jarvis/auto"})
    assert no_messages.status_code == 400 and "`messages`" in no_messages.json()["error"]["message"]
    bad_role = await client.post(
        "/api/chat", json={"model": "jarvis/auto", "messages": [{"role": "wizard", "content": "x"}]}
    )
    assert bad_role.status_code == 400 and "'wizard'" in bad_role.json()["error"]
    bad_temp = await client.post("/v1/chat/completions", json={**CHAT, "temperature": 9})
    assert bad_temp.status_code == 400 and "temperature" in bad_temp.json()["error"]["message"]
    two = await client.post("/v1/chat/completions", json={**CHAT, "n": 2})
    assert two.status_code == 400 and "n=1" in two.json()["error"]["message"]


async def test_unknown_model_is_404_in_both_shapes(asgi):
    client = await asgi()
    openai = await client.post("/v1/chat/completions", json={**CHAT, "model": "nope/nothing"})
    assert openai.status_code == 404 and openai.json()["error"]["code"] == "model_not_found"
    ollama = await client.post("/api/show", json={"model": "nothing"})
    assert ollama.status_code == 404 and ollama.json() == {"error": "model 'nothing' not found"}
    chain = await client.post("/v1/chat/completions", json={**CHAT, "model": "jarvis/chain/nope"})
    assert chain.status_code == 404 and "Known chains" in chain.json()["error"]["message"]


async def test_fim_without_a_fim_model_is_400_with_a_sentence(asgi):
    client = await asgi()
    resp = await client.post(
        "/v1/completions", json={"model": "jarvis/code", "prompt": "def f(", "suffix": "\n    return x"}
    )
    assert resp.status_code == 400
    assert "fill in the middle" in resp.json()["error"]["message"]
    # Ollama's /api/generate says the same (it answered 503 "no model can take this served" before),
    # and a named model without FIM training gets Ollama's own words.
    ollama = await client.post(
        "/api/generate", json={"model": "jarvis/code", "prompt": "def f(", "suffix": "\n    return x"}
    )
    assert ollama.status_code == 400 and "fill in the middle" in ollama.json()["error"]
    named = await client.post(
        "/api/generate", json={"model": "embedded/smollm2-135m", "prompt": "def f(", "suffix": "x"}
    )
    assert named.status_code == 400 and named.json() == {
        "error": "registry.ollama.ai/embedded/smollm2-135m:latest does not support insert"
    }
    openai = await client.post(
        "/v1/completions", json={"model": "embedded/smollm2-135m", "prompt": "def f(", "suffix": "x"}
    )
    assert openai.status_code == 400 and "cannot fill in the middle" in openai.json()["error"]["message"]
