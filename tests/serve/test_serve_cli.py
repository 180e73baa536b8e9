"""`jarvis serve` as a process: the ready line, a busy port refused in one sentence, Ctrl+C exits 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from tests.conftest import REPO, free_port

pytestmark = pytest.mark.slow


def start(home, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    (home / "config.toml").write_text("[ollama]\nenabled = false\n[lmstudio]\nenabled = false\n")
    return subprocess.Popen(
        [sys.executable, "-m", "jarvis.app.cli", "serve", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "JARVIS_HOME": str(home), **(env or {})},
    )


def test_ready_line_then_ctrl_c_exits_0(isolated_home):
    port = free_port()
    proc = start(isolated_home, "--port", str(port))
    try:
        line = proc.stdout.readline()
        assert line.strip() == (
            f"serving OpenAI API at http://127.0.0.1:{port}/v1 and Ollama API at http://127.0.0.1:{port}"
        )
        assert httpx.get(f"http://127.0.0.1:{port}/api/version", timeout=5).status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_busy_port_is_one_sentence(isolated_home):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = start(isolated_home, "--port", str(port))
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and out == ""
    assert err.startswith(f"jarvis: cannot listen on 127.0.0.1:{port}") and err.count("\n") == 1


def test_a_port_out_of_range_or_an_unknown_host_is_one_sentence(isolated_home):
    for args, says in (
        (("--port", "99999"), "jarvis: --port 99999 is not a TCP port"),
        (
            ("--host", "no-such-host.invalid", "--token", "t"),
            "jarvis: cannot listen on no-such-host.invalid:",
        ),
    ):
        proc = start(isolated_home, *args)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 2 and out == "", err
        assert err.startswith(says) and err.count("\n") == 1, err


def test_the_token_may_come_from_the_environment_out_of_the_process_list(isolated_home):
    port = free_port()
    proc = start(isolated_home, "--port", str(port), env={"JARVIS_SERVE_TOKEN": "from-env"})
    try:
        assert proc.stdout.readline().startswith("serving OpenAI API")
        url = f"http://127.0.0.1:{port}/v1/models"
        assert httpx.get(url, timeout=5).status_code == 401
        good = httpx.get(url, headers={"Authorization": "Bearer from-env"}, timeout=5)
        assert good.status_code == 200
        assert "from-env" not in " ".join(proc.args)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_ctrl_c_with_a_stream_in_flight_ends_it_without_a_traceback(isolated_home):
    port = free_port()
    # A short grace: on a quiet machine SmolLM2 writes 400 tokens within the default 3 s and ends normally.
    proc = start(isolated_home, "--port", str(port), "--grace", "0.2")
    try:
        assert proc.stdout.readline().startswith("serving OpenAI API")
        body = {
            "model": "embedded/smollm2-135m",
            "messages": [{"role": "user", "content": "Count to two hundred."}],
            "max_tokens": 400,
            "stream": True,
        }
        with httpx.stream("POST", f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=60) as r:
            lines = r.iter_lines()
            while not next(lines).startswith("data: {"):
                pass
            proc.send_signal(signal.SIGINT)
            rest = list(lines)  # the stream ends (cut), it does not hang
        assert proc.wait(20) == 0
        assert "data: [DONE]" not in rest
        # The client is told the answer was cut (else it would take the text so far for all of it).
        errors = [line for line in rest if line.startswith('data: {"error"')]
        assert len(errors) == 1 and "stopping" in errors[0], rest
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
