"""bench.stack_main: the stack a bench server runs on is recorded from its first accepted connection (what
bench.serve_overhead prints per path), and a loop that is not installed is one clear sentence."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import free_port


@pytest.mark.slow
def test_the_first_connection_records_the_running_loop_and_protocol(tmp_path):
    report = tmp_path / "stack.json"
    port = free_port()
    cmd = [sys.executable, "-m", "bench.stack_main", "--loop", "asyncio", "--report", str(report)]
    proc = subprocess.Popen([*cmd, "-m", "bench.sse_server", str(port), "2"])
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=0.5)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        doc = json.loads(report.read_text())
    finally:
        proc.terminate()
        proc.wait(10)
    assert doc["python"] == sys.executable
    assert doc["loop"] == "asyncio.unix_events._UnixSelectorEventLoop"
    assert doc["http"] == "asyncio.streams.StreamReaderProtocol"  # what asyncio.start_server serves with


@pytest.mark.slow
def test_uvloop_where_it_is_not_installed_is_one_sentence(tmp_path):
    if importlib.util.find_spec("uvloop") is not None:
        pytest.skip("uvloop is installed for this interpreter")
    cmd = [sys.executable, "-m", "bench.stack_main", "--loop", "uvloop", "--report", str(tmp_path / "r")]
    done = subprocess.run([*cmd, "-m", "bench.sse_server", "0"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    expected = f"uvloop is not installed for {sys.executable}; install it there or use --loop asyncio."
    assert done.stderr.strip() == expected


def test_a_litellm_path_that_is_not_an_executable_is_one_sentence(tmp_path):
    from bench import litellm_proxy

    missing = tmp_path / "bin" / "litellm"
    with pytest.raises(SystemExit) as raised:
        litellm_proxy.start(str(missing), "http://127.0.0.1:9", "sk-x", tmp_path / "run")
    assert str(raised.value) == (
        f"--litellm {missing} is not an executable file; make a venv with"
        ' `pip install "litellm[proxy]"` and pass its bin/litellm.'
    )
    assert not (tmp_path / "run").exists()  # nothing written, nothing started


def test_the_proxy_config_forwards_to_the_upstream_without_retries_or_spend_logs():
    from bench import litellm_proxy

    cfg = litellm_proxy.config("http://127.0.0.1:8123")
    (deployment,) = cfg["model_list"]
    assert deployment["model_name"] == litellm_proxy.MODEL
    assert deployment["litellm_params"]["api_base"] == "http://127.0.0.1:8123/v1"
    assert cfg["router_settings"]["num_retries"] == cfg["litellm_settings"]["num_retries"] == 0
    assert cfg["general_settings"]["disable_spend_logs"] is True
    assert "database_url" not in cfg["general_settings"]
