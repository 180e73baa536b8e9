"""`jarvis serve` under test: the real app on the real engine, either in-process through httpx's ASGI
transport (no model runs: listings, guards, refusals) or as a real uvicorn server on a loopback port in
its own thread (real clients: the openai SDK, the ollama client, litellm, raw httpx)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from jarvis.app.config import (
    Config,
    EmbeddedConfig,
    LMStudioConfig,
    OllamaConfig,
    OllamaHost,
    OpenAIEndpoint,
)
from jarvis.app.engine import build_engine
from jarvis.app.paths import resolve_paths
from jarvis.app.serve.server import ServeSettings, build_app

EMBEDDED = "embedded/smollm2-135m"


def make_config(
    *, ollama: str | None = None, endpoints: dict[str, str] | None = None, embedded: bool = True, **more: Any
) -> Config:
    """``more``: other sections, as Config takes them (e.g. ``router={"queue_size": 0}``)."""
    return Config(
        **more,
        ollama=OllamaConfig(enabled=ollama is not None, hosts=[OllamaHost(url=ollama)] if ollama else None),
        lmstudio=LMStudioConfig(enabled=False),
        openai_endpoints=[
            OpenAIEndpoint(name=name, url=url, timeout=60) for name, url in (endpoints or {}).items()
        ],
        embedded=EmbeddedConfig(enabled=embedded, n_threads=2),
    )


@pytest.fixture
async def asgi():
    """Factory: an httpx client talking to build_app in-process (no port, no model loaded)."""
    engines = []
    clients = []

    async def make(settings: ServeSettings | None = None, config: Config | None = None) -> httpx.AsyncClient:
        engine = await build_engine(config or make_config(), resolve_paths()).start()
        engines.append(engine)
        settings = settings or ServeSettings()
        transport = httpx.ASGITransport(app=build_app(engine, replace(settings, heartbeat_s=0)))
        client = httpx.AsyncClient(transport=transport, base_url=f"http://127.0.0.1:{settings.port}")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
    for engine in engines:
        await engine.close()


class ServerThread:
    """build_app on uvicorn, on a free loopback port, in a thread with its own event loop (so that
    blocking clients can be used from the test)."""

    def __init__(self, config: Config, settings: ServeSettings) -> None:
        self.config = config
        self.settings = settings
        self.ready = threading.Event()
        self.failed: BaseException | None = None
        self.server: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.database: Path = resolve_paths().database
        self.thread = threading.Thread(target=self._run, name="jarvis-serve-test", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        if not self.ready.wait(90):
            raise RuntimeError("jarvis serve did not start within 90 s")
        if self.failed is not None:
            raise self.failed
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as err:  # reported to the test through start()
            self.failed = err
            self.ready.set()

    async def _main(self) -> None:
        import uvicorn

        self.loop = asyncio.get_running_loop()
        sock = socket.socket(
            socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP
        )  # see serve_commands._bind
        sock.bind(("127.0.0.1", 0))
        self.settings = replace(self.settings, port=sock.getsockname()[1])
        engine = await build_engine(self.config, resolve_paths()).start()
        self.engine = engine
        try:
            config = uvicorn.Config(
                build_app(engine, self.settings),
                log_level="warning",
                lifespan="on",
                timeout_graceful_shutdown=2,
            )
            self.server = uvicorn.Server(config)
            task = asyncio.create_task(self.server.serve(sockets=[sock]))
            while not self.server.started and not task.done():
                await asyncio.sleep(0.02)
            self.ready.set()
            await task
        finally:
            await engine.close()
            sock.close()

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture
def serve():
    """Factory: a running `jarvis serve` (ServerThread) over the given config; stopped after the test."""
    servers: list[ServerThread] = []

    def make(config: Config, settings: ServeSettings | None = None) -> ServerThread:
        server = ServerThread(config, settings or ServeSettings(heartbeat_s=0.2)).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def wait_for_row(database: Path, sql: str, params: tuple = (), timeout: float = 10.0) -> dict[str, Any]:
    """The first row of ``sql`` once the ledger (written from another thread) has it."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.closing(sqlite3.connect(database)) as db:
            db.row_factory = sqlite3.Row
            try:
                row = db.execute(sql, params).fetchone()
            except sqlite3.OperationalError:
                row = None
        if row is not None:
            return dict(row)
        if time.monotonic() > deadline:
            raise AssertionError(f"no row for {sql} {params} within {timeout} s")
        time.sleep(0.05)


def sse_events(body: str) -> list[Any]:
    """The `data:` payloads of an SSE body, JSON-decoded (``[DONE]`` kept as the string)."""
    import json

    out: list[Any] = []
    for line in body.splitlines():
        if line.startswith("data: "):
            data = line[len("data: ") :]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


@pytest.fixture(scope="session")
def embed_url():
    """A loopback OpenAI-compatible embeddings server (tests/serve/embed_server.py)."""
    from tests.conftest import run_server

    with run_server("tests.serve.embed_server", "/v1/models") as url:
        yield url
