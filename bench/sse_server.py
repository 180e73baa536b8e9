"""A zero-latency OpenAI-compatible SSE server: isolates client-side overhead from model time.

Run: python -m bench.sse_server PORT [TOKENS]
"""

from __future__ import annotations

import asyncio
import json
import sys


def sse_body(tokens: int) -> bytes:
    def chunk(delta: dict, finish=None) -> str:
        return (
            "data: "
            + json.dumps(
                {
                    "id": "x",
                    "object": "chat.completion.chunk",
                    "model": "bench",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
            )
            + "\n\n"
        )

    parts = [chunk({"role": "assistant"})] + [chunk({"content": f" t{i}"}) for i in range(tokens)]
    parts.append(chunk({}, "length"))
    parts.append(
        "data: "
        + json.dumps(
            {
                "id": "x",
                "object": "chat.completion.chunk",
                "model": "bench",
                "choices": [],
                "usage": {"prompt_tokens": 5, "completion_tokens": tokens, "total_tokens": tokens + 5},
            }
        )
        + "\n\n"
    )
    parts.append("data: [DONE]\n\n")
    return "".join(parts).encode()


async def main(port: int, tokens: int) -> None:
    body = sse_body(tokens)
    models = json.dumps(
        {"object": "list", "data": [{"id": "bench", "object": "model", "owned_by": "me"}]}
    ).encode()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if length:
                    await reader.readexactly(length)
                if head.startswith(b"GET /v1/models"):
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                        + str(len(models)).encode()
                        + b"\r\n\r\n"
                        + models
                    )
                else:
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: "
                        + str(len(body)).encode()
                        + b"\r\n\r\n"
                        + body
                    )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def start(tokens: int = 8):
    """Start the server in a subprocess; returns (process, base URL) once it answers."""
    import subprocess
    import time

    import httpx

    from tests.conftest import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.sse_server", str(port), str(tokens)])
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(base + "/v1/models", timeout=0.5)
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    return proc, base


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 8))
