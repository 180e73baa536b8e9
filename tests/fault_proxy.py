"""A loopback HTTP proxy that misbehaves on request: 500, 429 with Retry-After, a stream cut
mid-way, a malformed stream line, a hang, or a reset - in front of a real server."""

from __future__ import annotations

import asyncio
import json

import httpx

MODES = ("pass", "status500", "status429", "cut", "malformed", "hang", "reset")


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.mode = "pass"
        #: Lines of the upstream body relayed before a cut or a malformed line.
        self.after_lines = 6
        self.retry_after = "7"
        self.requests = 0
        #: Request paths in arrival order, for tests that count round trips.
        self.paths: list[str] = []
        #: Request bodies, as sent (the prompts a test asserts on).
        self.bodies: list[bytes] = []
        self._server: asyncio.AbstractServer | None = None
        self._client = httpx.AsyncClient(timeout=60)
        self._tasks: set[asyncio.Task] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        if self._server:
            self._server.close()
        await self._client.aclose()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            if not writer.is_closing():
                writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
        self.requests += 1
        self.paths.append(path)
        self.bodies.append(body)
        mode = self.mode
        if mode == "reset":
            writer.transport.abort()
            return
        if mode == "hang":
            await asyncio.sleep(3600)
            return
        if mode == "status500":
            await self._reply(
                writer, 500, "Internal Server Error", {"error": "llama runner process has terminated"}
            )
            return
        if mode == "status429":
            await self._reply(
                writer,
                429,
                "Too Many Requests",
                {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}},
                extra={"Retry-After": self.retry_after},
            )
            return
        fwd = {k: v for k, v in headers.items() if k not in ("host", "content-length", "connection")}
        async with self._client.stream(method, self.upstream + path, content=body, headers=fwd) as resp:
            out = [f"HTTP/1.1 {resp.status_code} {resp.reason_phrase}"]
            for k, v in resp.headers.items():
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                    out.append(f"{k}: {v}")
            out += ["Transfer-Encoding: chunked", "Connection: close", "", ""]
            writer.write("\r\n".join(out).encode("latin-1"))
            sse = "event-stream" in resp.headers.get("content-type", "")
            count = 0
            async for line in resp.aiter_lines():
                if line.strip():
                    count += 1
                if mode == "cut" and count > self.after_lines:
                    await writer.drain()
                    writer.transport.abort()  # no terminating chunk: the client sees a broken stream
                    return
                if mode == "malformed" and count == self.after_lines + 1:
                    bad = (
                        'data: {"choices": [{"delta": {"content": "oops\n'
                        if sse
                        else '{"model": "x", "message": {'
                    )
                    self._chunk(writer, bad + "\n")
                    if sse:
                        self._chunk(writer, "\n")
                self._chunk(writer, line + "\n")
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    @staticmethod
    def _chunk(writer: asyncio.StreamWriter, text: str) -> None:
        data = text.encode("utf-8")
        writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    @staticmethod
    async def _reply(writer, status: int, reason: str, payload: dict, extra: dict | None = None) -> None:
        body = json.dumps(payload).encode()
        head = [
            f"HTTP/1.1 {status} {reason}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            "Connection: close",
        ]
        head += [f"{k}: {v}" for k, v in (extra or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()


class ThreadedFaultProxy:
    """A FaultProxy on its own thread and event loop, for synchronous tests that run subprocesses."""

    def __init__(self, upstream: str) -> None:
        import threading

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(self._start(upstream), self._loop)
        self.proxy: FaultProxy = started.result(10)

    async def _start(self, upstream: str) -> FaultProxy:
        return await FaultProxy(upstream).start()

    def __getattr__(self, name):
        return getattr(self.proxy, name)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
