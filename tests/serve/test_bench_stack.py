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
