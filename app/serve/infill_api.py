"""llama.cpp server's `POST /infill`, the endpoint llama.vscode and llama.vim complete code with: the text
before the cursor (``input_prefix``, then ``prompt``: the current line up to the cursor) and after it
(``input_suffix``), answered as ``{"content": ..., "stop": true, "timings": {...}}`` (or streamed as SSE
``data: {"content": ..., "stop": false}`` lines). The same fill-in-the-middle path as a `suffix` on
/v1/completions: the backend's own FIM tokens, FIM-capable models only.

Not taken over from llama.cpp: ``input_extra`` (chunks of other files, which llama.cpp puts before the FIM
prefix with its repo/file-separator tokens; here they are left out), prompt caching and its
``n_predict: 0`` warm-up requests (answered at once with no content), ``t_max_*_ms`` time limits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from . import parse
from .gateway import Failed, Finished, Gateway, ServedRequest, Text
from .models import CODE, FimRefused, UnknownModel, fim_request
from .respond import Timing, Traffic, answer, retry_headers

_TYPES = {400: "invalid_request_error", 404: "not_found_error", 429: "unavailable_error"}


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "type": _TYPES.get(status, "server_error")}}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


def stop_type(reason: str) -> str:
    return "limit" if reason in ("length", "max_tokens") else "eos"


@dataclass
class InfillEncoder:
    req: ServedRequest
    media_type: str = "text/event-stream"
    keepalive: bytes | None = b": keep-alive\n\n"

    def error(self, failed: Failed, headers: dict[str, str]) -> Response:
        return error_response(failed.status, failed.message, retry_headers(failed, headers))

    def _final(self, finished: Finished) -> dict[str, Any]:
        u = finished.usage
        prompt_n, predicted_n = u.prompt_tokens or 0, u.completion_tokens or 0
        prompt_ms = (u.ttft_s or 0.0) * 1000
        predicted_ms = max((u.total_s or 0.0) * 1000 - prompt_ms, 0.0)
        return {
            "model": finished.model,
            "stop": True,
            "stop_type": stop_type(finished.finish_reason),
            "tokens_predicted": predicted_n,
            "tokens_evaluated": prompt_n,
            "truncated": False,
            # What llama.vscode shows as its statistics.
            "timings": {
                "prompt_n": prompt_n,
                "prompt_ms": prompt_ms,
                "prompt_per_second": prompt_n / prompt_ms * 1000 if prompt_ms else 0.0,
                "predicted_n": predicted_n,
                "predicted_ms": predicted_ms,
                "predicted_per_second": u.tokens_per_s or 0.0,
            },
        }

    def chunk(self, event: Text | Finished | Failed) -> tuple[bytes, bool]:
        if isinstance(event, Text):
            doc: dict[str, Any] = {"content": event.text, "stop": False}
        elif isinstance(event, Finished):
            doc = {"content": "", **self._final(event)}
        else:
            doc = error_body(event.status if event.status != 200 else 503, event.message)
        return b"data: " + json.dumps(doc, separators=(",", ":")).encode() + b"\n\n", not isinstance(
            event, Text
        )

    def whole(self, text: str, finished: Finished) -> dict[str, Any]:
        return {"content": text, **self._final(finished)}


def text_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise parse.BadRequest(f"`{name}` must be a string.")
    return value


class InfillApi:
    def __init__(self, gateway: Gateway, traffic: Traffic, timing: Timing) -> None:
        self.gateway = gateway
        self.traffic = traffic
        self.timing = timing

    def routes(self) -> list[BaseRoute]:
        return [Route("/infill", self.infill, methods=["POST"])]

    async def infill(self, request: Request) -> Response:
        try:
            body = await parse.json_body(request)
            # No model named (llama.cpp serves one): the code models' virtual model picks a FIM one.
            name = body.get("model") if isinstance(body.get("model"), str) and body["model"].strip() else CODE
            route = await self.gateway.resolve(name)
            prefix = text_field(body, "input_prefix") + text_field(body, "prompt")
            suffix = text_field(body, "input_suffix")
            n_predict = body.get("n_predict")
            if n_predict is not None and (not isinstance(n_predict, int) or isinstance(n_predict, bool)):
                raise parse.BadRequest("`n_predict` must be an integer (-1: no limit).")
            options = parse.options(
                {
                    "temperature": body.get("temperature"),
                    "max_tokens": n_predict if n_predict and n_predict > 0 else None,
                    "top_p": body.get("top_p"),
                    "stop": body.get("stop"),
                    "seed": body.get("seed") if body.get("seed", -1) != -1 else None,
                }
            )
        except parse.BadRequest as err:
            return error_response(400, str(err))
        except UnknownModel as err:
            return error_response(404, str(err))
        if n_predict == 0:
            # llama.vscode's cache warm-up: llama.cpp evaluates the prompt and predicts nothing.
            return JSONResponse({"content": "", "stop": True, "stop_type": "limit", "tokens_predicted": 0})
        try:
            fim = fim_request(route, self.gateway.engine.registry, prefix, suffix)
        except FimRefused as err:
            return error_response(400, str(err))
        req = ServedRequest(route, fim.messages, options, exclude=fim.exclude, infill=fim.infill)
        return await answer(
            request,
            self.gateway,
            req,
            InfillEncoder(req),
            stream=bool(body.get("stream")),
            traffic=self.traffic,
            timing=self.timing,
        )
