"""Streamed answers whose status and headers are chosen by their first event, with keep-alives and with
a client that goes away cancelling the work behind it.

Nothing is sent until the answer's first event: an error before it is a plain HTTP error (so a fallback
or a refusal is invisible to the client), and the headers name the model that is really answering.
A long wait (a model loading) commits a 200 after ``head_wait_s`` and sends keep-alive comments, where
the format has them (SSE); NDJSON has none, so Ollama clients simply wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

_END = object()
#: How long the work behind a stream gets to stop cleanly after its client left, before it is cancelled.
STOP_GRACE_S = 5.0


class DisconnectWatch:
    """Sets ``cancel`` when the client disconnects; the engine then stops at once and records a 499."""

    def __init__(self, request: Request, cancel: asyncio.Event) -> None:
        self.cancel = cancel
        self._task = asyncio.create_task(self._watch(request.receive))

    async def _watch(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.cancel.set()
                return

    def stop(self) -> None:
        self._task.cancel()


class Pump:
    """Runs an event source in its own task so the first event can be awaited with a deadline."""

    def __init__(self, source: AsyncIterator[Any], cancel: asyncio.Event) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.source = source
        #: The source's stop flag: set when the stream is abandoned (client gone, server shutting down).
        self.cancel = cancel
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for item in self.source:
                self.queue.put_nowait(item)
        except Exception as err:  # handed to the reader, which turns it into the API's error
            self.queue.put_nowait(err)
        finally:
            self.queue.put_nowait(_END)

    async def next(self, timeout: float | None = None) -> Any:
        """The next event, ``_END`` at the end; TimeoutError when none came within ``timeout``."""
        if not self.queue.empty():  # the common case mid-stream: no timer, no extra task
            item = self.queue.get_nowait()
        elif timeout is None:
            item = await self.queue.get()
        else:
            # asyncio.timeout, not wait_for: wait_for (3.11) wraps the get in a task of its own, and this
            # runs for nearly every piece of a fast stream (~100 calls each, measured with cProfile).
            async with asyncio.timeout(timeout):
                item = await self.queue.get()
        if isinstance(item, Exception):
            raise item
        return item

    async def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Tell the source to stop, give it ``grace_s`` to record how it ended, then cancel it."""
        if self.task.done():
            return
        self.cancel.set()
        try:
            async with asyncio.timeout(grace_s):
                await asyncio.shield(self.task)
        except (TimeoutError, Exception):
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task


def is_end(item: Any) -> bool:
    return item is _END


class LiveStream(Response):
    """An ASGI response that writes encoded events as they come.

    ``first`` is the event already taken from ``pump`` (None when the head was committed by a timeout);
    ``encode(event)`` returns the bytes for it and whether the stream ends after them.
    """

    def __init__(
        self,
        pump: Pump,
        first: Any,
        encode: Callable[[Any], tuple[bytes, bool]],
        *,
        headers: Mapping[str, str],
        media_type: str,
        keepalive: bytes | None = None,
        keepalive_s: float = 10.0,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.pump = pump
        self.first = first
        self.encode = encode
        self.keepalive = keepalive
        self.keepalive_s = keepalive_s
        self.on_close = on_close
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.init_headers({**headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    def _encode_ready(self, item: Any) -> tuple[bytes, bool, bool]:
        """``item`` and whatever else is queued now, encoded: (bytes, the format ended, the source ended)."""
        parts: list[bytes] = []
        while True:
            if is_end(item):
                return b"".join(parts), False, True
            data, last = self.encode(item)
            parts.append(data)
            if last or self.pump.queue.empty():
                return b"".join(parts), last, False
            item = self.pump.queue.get_nowait()
            if isinstance(item, Exception):
                raise item

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
            )
            item = self.first
            while True:
                if item is not None:
                    # Everything already waiting goes out in one write: a fast upstream's tokens then cost
                    # one send (and one pass through the middleware) instead of one each.
                    data, last, ended = self._encode_ready(item)
                    if last or ended:
                        await send({"type": "http.response.body", "body": data, "more_body": False})
                        return
                    if data:
                        await send({"type": "http.response.body", "body": data, "more_body": True})
                try:
                    item = await self.pump.next(self.keepalive_s if self.keepalive is not None else None)
                except TimeoutError:
                    item = None
                    if self.keepalive is not None:
                        await send({"type": "http.response.body", "body": self.keepalive, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client went away mid-write: the disconnect watch has told the engine
        finally:
            await self.pump.stop()
            if self.on_close is not None:
                await self.on_close()
