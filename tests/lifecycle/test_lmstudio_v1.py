"""LM Studio 0.4's REST API offers load and unload: a loopback stand-in for its /api/v1 model endpoints
(shapes from lmstudio.ai/docs/developer/rest: list with loaded_instances, load {model, context_length},
unload {instance_id}) checks that the lifecycle uses them, lists before loading, and names the host."""

from __future__ import annotations

import asyncio
import socket

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jarvis.providers.lifecycle_lmstudio import LMStudioLifecycle
from jarvis.providers.lmstudio import LMStudioProvider

pytestmark = pytest.mark.slow  # starts a server on loopback

KEY = "qwen2.5-7b-instruct"


def lmstudio_v1() -> tuple[Starlette, list[dict]]:
    instances: list[dict] = []
    calls: list[dict] = []

    async def models(_: Request) -> JSONResponse:
        return JSONResponse(
            {
                "models": [
                    {
                        "type": "llm",
                        "publisher": "qwen",
                        "key": KEY,
                        "display_name": "Qwen2.5 7B Instruct",
                        "architecture": "qwen2",
                        "quantization": {"name": "Q4_K_M", "bits_per_weight": 4},
                        "size_bytes": 4_683_073_184,
                        "params_string": "7B",
                        "loaded_instances": list(instances),
                        "max_context_length": 32768,
                        "format": "gguf",
                    }
                ]
            }
        )

    async def load(request: Request) -> JSONResponse:
        body = await request.json()
        calls.append({"load": body})
        instances.append(
            {"id": body["model"], "config": {"context_length": body.get("context_length", 4096)}}
        )
        return JSONResponse(
            {"type": "llm", "instance_id": body["model"], "load_time_seconds": 1.5, "status": "loaded"}
        )

    async def unload(request: Request) -> JSONResponse:
        body = await request.json()
        calls.append({"unload": body})
        instances[:] = [i for i in instances if i["id"] != body["instance_id"]]
        return JSONResponse({"instance_id": body["instance_id"]})

    routes = [
        Route("/api/v1/models", models),
        Route("/api/v1/models/load", load, methods=["POST"]),
        Route("/api/v1/models/unload", unload, methods=["POST"]),
    ]
    return Starlette(routes=routes), calls


@pytest.fixture
async def lmstudio():
    app, calls = lmstudio_v1()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    provider = LMStudioProvider("lmstudio", f"http://127.0.0.1:{port}")
    yield LMStudioLifecycle(provider), calls
    await provider.close()
    server.should_exit = True
    await task


async def test_load_ps_unload_through_the_v1_api(lmstudio):
    life, calls = lmstudio
    where = life.where
    assert await life.loaded() == []
    assert await life.load(KEY, keep_alive=None, num_ctx=8192) == f"Loaded {KEY} on {where}."
    # Already loaded: no second instance (LM Studio would load another copy).
    assert await life.load(KEY, keep_alive=None, num_ctx=8192) == f"{KEY} is already loaded on {where}."
    [loaded] = await life.loaded()
    assert (loaded.id, loaded.size_bytes, loaded.context_length) == (f"lmstudio/{KEY}", 4_683_073_184, 8192)
    assert await life.unload(KEY) == f"Unloaded {KEY} on {where}."
    assert await life.loaded() == []
    assert calls == [{"load": {"model": KEY, "context_length": 8192}}, {"unload": {"instance_id": KEY}}]
