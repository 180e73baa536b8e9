"""Floors for bench.serve_overhead: the least a Python gateway between the client and the upstream can add,
without any of jarvis (no selection, ledger, metrics), each a one-route server forwarding a streamed chat
completion to the upstream.

- ``passthrough``: uvicorn (h11) + Starlette + httpx, the upstream's bytes as they come;
- ``reencode``: the same stack, each SSE line parsed and written again (what jarvis must do to name the
  answering model and keep the stream contract): jarvis serve's own stack with nothing else;
- ``aiohttp-client``: the same server, aiohttp (C HTTP parser) to the upstream instead of httpx;
- ``aiohttp``: aiohttp on both sides;
- ``tcp-relay``: no HTTP at all, the bytes relayed between the client's connection and one upstream
  connection each: what the extra process and loopback hop alone cost (no gateway can add less).

Run: python -m bench.serve_floors KIND PORT UPSTREAM_URL (prints "ready" when it listens)
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import AsyncIterator
from typing import Any

KINDS = ("passthrough", "reencode", "aiohttp-client", "aiohttp", "tcp-relay")


def reencode(line: bytes) -> bytes:
    return b"data: " + json.dumps(json.loads(line[6:]), separators=(",", ":")).encode() + b"\n\n"


async def asgi_floor(kind: str, port: int, upstream: str) -> None:
    import httpx
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    client = httpx.AsyncClient(timeout=30, limits=limits)
    sessions: list[Any] = []

    async def via_httpx(body: dict[str, Any]) -> AsyncIterator[bytes]:
        async with client.stream("POST", upstream + "/v1/chat/completions", json=body) as r:
            if kind == "passthrough":
                async for raw in r.aiter_raw():
                    yield raw
                return
            async for line in r.aiter_lines():
                if line.startswith("data: {"):
                    yield reencode(line.encode())
        yield b"data: [DONE]\n\n"

    async def via_aiohttp(body: dict[str, Any]) -> AsyncIterator[bytes]:
        from aiohttp import ClientSession, TCPConnector

        if not sessions:
            sessions.append(ClientSession(connector=TCPConnector(limit=64)))
        async with sessions[0].post(upstream + "/v1/chat/completions", json=body) as r:
            async for line in r.content:
                if line.startswith(b"data: {"):
                    yield reencode(line)
        yield b"data: [DONE]\n\n"

    async def chat(request: Request) -> StreamingResponse:
        body = {**await request.json(), "model": "bench"}
        gen = via_aiohttp(body) if kind == "aiohttp-client" else via_httpx(body)
        return StreamingResponse(gen, media_type="text/event-stream")

    app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY, as serve
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, log_level="warning", access_log=False, proxy_headers=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    print("ready", flush=True)
    await task


async def aiohttp_floor(port: int, upstream: str) -> None:
    from aiohttp import ClientSession, TCPConnector, web

    session = ClientSession(connector=TCPConnector(limit=64))

    async def chat(request: web.Request) -> web.StreamResponse:
        body = {**await request.json(), "model": "bench"}
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        async with session.post(upstream + "/v1/chat/completions", json=body) as r:
            async for line in r.content:
                if line.startswith(b"data: {"):
                    await resp.write(reencode(line))
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


async def tcp_relay(port: int, upstream: str) -> None:
    host, _, up_port = upstream.removeprefix("http://").partition(":")

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(up_port))
        for w in (writer, up_writer):  # as uvicorn and the HTTP clients do: no Nagle delay on small writes
            w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    kind, port, upstream = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if kind not in KINDS:
        sys.exit(f"unknown floor {kind!r}; one of {', '.join(KINDS)}")
    if kind == "aiohttp":
        asyncio.run(aiohttp_floor(port, upstream))
    elif kind == "tcp-relay":
        asyncio.run(tcp_relay(port, upstream))
    else:
        asyncio.run(asgi_floor(kind, port, upstream))


if __name__ == "__main__":
    main()
