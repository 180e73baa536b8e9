"""`build_app(engine, settings)`: the Starlette app of `jarvis serve`, a third face on the same engine as the
CLI and the TUI. The OpenAI API under /v1, the Ollama API under /api, and (when present) the design
REST API and /metrics; every route behind the Host/token guard and the CORS allow-list."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute

from jarvis.chains.served_store import heartbeat, stop_serving

from ..engine import Engine
from .design_api import design_routes
from .gateway import Gateway
from .infill_api import InfillApi
from .metrics import metrics_routes
from .ollama_api import OllamaApi
from .openai_api import OpenAIApi
from .respond import Timing, Traffic
from .security import EXPOSED_HEADERS, Guard


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 11435
    token: str | None = field(default=None, repr=False)
    #: Origins a browser page may call from (CORS); none by default.
    cors_origins: tuple[str, ...] = ()
    #: More names the Host header may carry (a LAN name, a reverse proxy's).
    allowed_hosts: tuple[str, ...] = ()
    #: Wait this long for a stream's first event before sending its head and keep-alive comments.
    head_wait_s: float = 5.0
    keepalive_s: float = 10.0
    #: How often the `servers` row is refreshed for the workbench's status line (0: never).
    heartbeat_s: float = 2.0
    #: How often the providers are asked for their models again, so that /v1/models and /api/tags show a
    #: model pulled (or removed) while the server runs (0: never).
    rediscover_s: float = 30.0


def extra_routes(engine: Engine, gateway: Gateway) -> list[BaseRoute]:
    """The design REST API (sharing ``gateway``, so it can cancel any served request) and /metrics."""
    return [*design_routes(engine, gateway), *metrics_routes(engine)]


def build_app(engine: Engine, settings: ServeSettings | None = None) -> Starlette:
    settings = settings or ServeSettings()
    traffic = Traffic()
    timing = Timing(settings.head_wait_s, settings.keepalive_s)
    gateway = Gateway(engine)
    routes: list[BaseRoute] = [
        *OpenAIApi(gateway, traffic, timing).routes(),
        *OllamaApi(gateway, traffic, timing).routes(),
        *InfillApi(gateway, traffic, timing).routes(),
        *extra_routes(engine, gateway),
    ]
    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["*"],  # SDKs send their own (x-stainless-*); the token guards access
            expose_headers=list(EXPOSED_HEADERS),
            max_age=600,
        ),
        # Inside CORS, so that a refusal still carries the CORS headers a browser needs to read it.
        Middleware(
            Guard, bound_host=settings.host, token=settings.token, allowed_hosts=settings.allowed_hosts
        ),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        beat = asyncio.create_task(_heartbeats(engine, settings, traffic)) if settings.heartbeat_s else None
        again = (
            asyncio.create_task(_rediscover(engine, settings.rediscover_s)) if settings.rediscover_s else None
        )
        try:
            yield
        finally:
            if again is not None:
                again.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await again
            if beat is not None:
                beat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await beat
                engine.ledger.submit_fn(stop_serving)

    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.traffic = traffic
    app.state.gateway = gateway
    return app


async def _heartbeats(engine: Engine, settings: ServeSettings, traffic: Traffic) -> None:
    started = engine.orchestrator.clock.time()
    while True:
        engine.ledger.submit_fn(
            partial(
                heartbeat,
                host=settings.host,
                port=settings.port,
                started_at=started,
                in_flight=traffic.in_flight,
                queued=_queued(engine),
                served=traffic.served,
            )
        )
        await asyncio.sleep(settings.heartbeat_s)


async def _rediscover(engine: Engine, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        # A provider that fails is listed as unreachable by refresh itself; anything else must not end
        # the loop (the next round may well succeed).
        with contextlib.suppress(Exception):
            await engine.registry.refresh()


def _queued(engine: Any) -> int:
    """Requests waiting in the router's queues, when the engine has a router (chains.router)."""
    load = getattr(getattr(engine, "router", None), "load", None)
    return int(load().queued) if callable(load) else 0


def cors_list(values: Sequence[str] | None) -> tuple[str, ...]:
    return tuple(v.rstrip("/") for v in values or ())
