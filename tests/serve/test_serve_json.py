"""`jarvis serve --json`: the ready line is one JSON object (each face's URL, host, port, whether a token is
required, never the token), then one JSON line per lifecycle event, for a supervisor to read."""

from __future__ import annotations

import json
import signal

import httpx
import pytest

from tests.conftest import free_port
from tests.serve.test_serve_cli import start

pytestmark = pytest.mark.slow


def test_ready_and_lifecycle_as_json_lines_without_the_token(isolated_home):
    port = free_port()
    proc = start(isolated_home, "--port", str(port), "--json", env={"JARVIS_SERVE_TOKEN": "from-env"})
    try:
        ready = json.loads(proc.stdout.readline())
        base = f"http://127.0.0.1:{port}"
        assert ready["event"] == "ready" and ready["pid"] == proc.pid
        assert ready["openai_url"] == base + "/v1" and ready["ollama_url"] == base
        assert ready["host"] == "127.0.0.1" and ready["port"] == port and ready["token_required"] is True
        assert isinstance(ready["models"], int)
        auth = {"Authorization": "Bearer from-env"}
        assert httpx.get(ready["ollama_url"] + "/api/version", headers=auth, timeout=5).status_code == 200
        missing = httpx.post(
            ready["openai_url"] + "/chat/completions",
            json={"model": "no/such-model", "messages": [{"role": "user", "content": "hi"}]},
            headers=auth,
            timeout=30,
        )
        assert missing.status_code == 404
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        events = [json.loads(line) for line in out.splitlines()]
        assert events == [
            {"event": "stopping", "signal": "SIGINT", "in_flight": 0},
            {"event": "stopped", "served": 0},
        ]
        assert "from-env" not in out + err and "Ctrl+C" not in err
    finally:
        if proc.poll() is None:
            proc.kill()


def test_without_a_token_the_ready_object_says_none_is_required(isolated_home):
    port = free_port()
    proc = start(isolated_home, "--port", str(port), "--json")
    try:
        ready = json.loads(proc.stdout.readline())
        assert ready["token_required"] is False and ready["port"] == port
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
