"""One answer, streamed or whole, for either API: the gateway's events through that API's encoder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .gateway import Failed, Finished, Gateway, ServedRequest, Text
from .streaming import DisconnectWatch, LiveStream, Pump, is_end


@dataclass
class Traffic:
    """Requests in flight and served by this process (for the heartbeat and /metrics)."""

    in_flight: int = 0
    served: int = 0


class Encoder(Protocol):
    media_type: str
    #: Bytes sent while waiting (an SSE comment); None where the format has no such thing (NDJSON).
    keepalive: bytes | None

    def error(self, failed: Failed, headers: dict[str, str]) -> Response: ...

    def chunk(self, event: Text | Finished | Failed) -> tuple[bytes, bool]: ...

    def whole(self, text: str, finished: Finished) -> dict[str, Any]: ...


@dataclass
class Timing:
    #: Wait this long for the first event before committing a 200 and sending keep-alives.
    head_wait_s: float = 5.0
    keepalive_s: float = 10.0


async def answer(
    request: Request,
    gateway: Gateway,
    req: ServedRequest,
    encoder: Encoder,
    *,
    stream: bool,
    traffic: Traffic,
    timing: Timing,
) -> Response:
    req.client = request.headers.get("user-agent")
    req.stream = stream
    watch = DisconnectWatch(request, req.cancel)
    pump = Pump(gateway.chat(req), req.cancel)
    traffic.in_flight += 1

    async def done() -> None:
        watch.stop()
        traffic.in_flight -= 1
        traffic.served += 1

    if not stream:
        try:
            return await _whole(pump, req, encoder)
        finally:
            await done()
    wait = timing.head_wait_s if encoder.keepalive is not None else None
    try:
        first = await pump.next(wait)
    except TimeoutError:
        first = None  # a long load: commit the head now, keep the connection alive
    except BaseException:
        await pump.stop(0)
        await done()
        raise
    if isinstance(first, Failed) or is_end(first):
        await pump.stop()
        await done()
        if isinstance(first, Failed):
            return encoder.error(first, req.headers())
        return encoder.error(Failed(499, "The client went away.", "cancelled"), req.headers())
    return LiveStream(
        pump,
        first,
        encoder.chunk,
        headers=req.headers(),
        media_type=encoder.media_type,
        keepalive=encoder.keepalive,
        keepalive_s=timing.keepalive_s,
        on_close=done,
    )


async def _whole(pump: Pump, req: ServedRequest, encoder: Encoder) -> Response:
    parts: list[str] = []
    try:
        while not is_end(item := await pump.next()):
            if isinstance(item, Text):
                parts.append(item.text)
            elif isinstance(item, Failed):
                return encoder.error(item, req.headers())
            elif isinstance(item, Finished):
                return JSONResponse(encoder.whole("".join(parts), item), headers=req.headers())
    finally:
        await pump.stop()
    return encoder.error(Failed(499, "The client went away.", "cancelled"), req.headers())


def retry_headers(failed: Failed, headers: dict[str, str]) -> dict[str, str]:
    out = dict(headers)
    if failed.retry_after is not None:
        out["Retry-After"] = str(max(1, round(failed.retry_after)))
    return out
