"""The OpenAI-compatible API under /v1: models, chat completions, completions (with FIM), embeddings.

The streaming contract clients depend on: one ``id`` and ``created`` for the whole stream; the first
delta carries ``role``; ``finish_reason`` is null until a final chunk with an empty delta; a usage chunk
(``choices: []``) only when ``stream_options.include_usage`` is set; ``data: [DONE]``; keep-alive SSE
comments while a model loads; an error after the first byte as ``data: {"error": {...}}``, then close.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from jarvis.providers.types import Message

from . import parse
from .embeddings import EmbedFailed, embed
from .gateway import CONTEXT_EXCEEDED, Failed, Finished, Gateway, ServedRequest, Text
from .models import FimRefused, UnknownModel, fim_request, raw_request, virtual_ids
from .ollama_api import capabilities
from .respond import Timing, Traffic, answer, retry_headers
from .tools import BadTools, ToolsRefused, openai_calls, tool_exclude, with_tools

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "invalid_request_error",
    429: "rate_limit_error",
    499: "cancelled",
}
_ERROR_CODES = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}


def error_body(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": _ERROR_TYPES.get(status, "server_error"),
            "param": "messages" if code == CONTEXT_EXCEEDED else None,
            "code": code or _ERROR_CODES.get(status),
        }
    }


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None, code: str | None = None
) -> JSONResponse:
    return JSONResponse(error_body(status, message, code), status_code=status, headers=headers)


def error_code(failed: Failed) -> str | None:
    """The code a failure carries beyond its status (a too-long prompt: OpenAI's own code)."""
    return CONTEXT_EXCEEDED if failed.kind == CONTEXT_EXCEEDED else None


def finish_reason(reason: str) -> str:
    return "length" if reason in ("length", "max_tokens") else "stop"


def usage_json(finished: Finished) -> dict[str, int]:
    p = finished.usage.prompt_tokens or 0
    c = finished.usage.completion_tokens or 0
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


@dataclass
class ChatEncoder:
    """Chat (``kind="chat"``) or text completions (``kind="text"``) in OpenAI's shapes."""

    req: ServedRequest
    created: int
    kind: str = "chat"
    include_usage: bool = False
    media_type: str = "text/event-stream"
    keepalive: bytes | None = b": keep-alive\n\n"
    _id: str = field(default="", init=False)
    _began: bool = field(default=False, init=False)
    #: (model, bytes before the text, bytes after it) of a content chunk: the same for a whole stream.
    _frame: tuple[str, bytes, bytes] | None = field(default=None, init=False)

    @property
    def object(self) -> str:
        return "chat.completion" if self.kind == "chat" else "text_completion"

    def id(self) -> str:
        if not self._id:
            prefix = "chatcmpl-" if self.kind == "chat" else "cmpl-"
            self._id = prefix + (self.req.run_id or "jarvis")
        return self._id

    def error(self, failed: Failed, headers: dict[str, str]) -> Response:
        return error_response(
            failed.status, failed.message, retry_headers(failed, headers), error_code(failed)
        )

    def _chunk(self, choice: dict[str, Any] | None, usage: dict[str, int] | None = None) -> bytes:
        doc: dict[str, Any] = {
            "id": self.id(),
            "object": self.object + ".chunk" if self.kind == "chat" else self.object,
            "created": self.created,
            "model": self.req.model or self.req.route.requested,
            "choices": [choice] if choice is not None else [],
        }
        if usage is not None:
            doc["usage"] = usage
        return b"data: " + json.dumps(doc, separators=(",", ":")).encode() + b"\n\n"

    def _choice(self, text: str | None, reason: str | None, *, role: bool = False) -> dict[str, Any]:
        if self.kind == "text":
            return {"index": 0, "text": text or "", "logprobs": None, "finish_reason": reason}
        delta: dict[str, Any] = {}
        if role:
            delta["role"] = "assistant"
        if text is not None:
            delta["content"] = text
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}

    def _text_chunk(self, text: str) -> bytes:
        """The bytes `_chunk` makes for a piece of text, with only the text encoded per piece: the rest of
        the frame is built once per stream (per token, a whole dict through json.dumps cost more)."""
        model = self.req.model or self.req.route.requested
        if self._frame is None or self._frame[0] != model:
            marker = json.dumps("\x00").encode()
            head, _, tail = self._chunk(self._choice("\x00", None)).partition(marker)
            self._frame = (model, head, tail)
        return self._frame[1] + json.dumps(text).encode() + self._frame[2]

    def chunk(self, event: Text | Finished | Failed) -> tuple[bytes, bool]:
        out = b""
        if not self._began and not isinstance(event, Failed):
            self._began = True
            if self.kind == "chat":
                out += self._chunk(self._choice("", None, role=True))
        if isinstance(event, Text):
            return out + self._text_chunk(event.text), False
        if isinstance(event, Finished):
            if event.tool_calls:
                # Whole calls in one delta, each with its index (OpenAI streams the same shape in pieces).
                calls = {"index": 0, "delta": {"tool_calls": openai_calls(event.tool_calls, self.req.run_id)}}
                out += self._chunk({**calls, "logprobs": None, "finish_reason": None})
            out += self._chunk(self._choice(None, self._reason(event)))
            if self.include_usage:
                out += self._chunk(None, usage_json(event))
            return out + b"data: [DONE]\n\n", True
        body = error_body(event.status if event.status != 200 else 503, event.message, error_code(event))
        return out + b"data: " + json.dumps(body).encode() + b"\n\n", True

    @staticmethod
    def _reason(finished: Finished) -> str:
        reason = finish_reason(finished.finish_reason)
        # Calls cut off by max_tokens keep "length": a client must not run a call with half its arguments.
        return "tool_calls" if finished.tool_calls and reason != "length" else reason

    def whole(self, text: str, finished: Finished) -> dict[str, Any]:
        reason = self._reason(finished)
        if self.kind == "chat":
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if finished.tool_calls:
                calls = openai_calls(finished.tool_calls, self.req.run_id)
                message["tool_calls"] = [{k: v for k, v in c.items() if k != "index"} for c in calls]
                message["content"] = text or None  # OpenAI's null content beside calls
            choice: dict[str, Any] = {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": reason,
            }
        else:
            choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": reason}
        return {
            "id": self.id(),
            "object": self.object,
            "created": self.created,
            "model": finished.model or self.req.model,
            "choices": [choice],
            "usage": usage_json(finished),
        }


CONTINUE_INSTRUCTION = "Continue the text. Reply with the continuation only, nothing repeated."


class OpenAIApi:
    def __init__(self, gateway: Gateway, traffic: Traffic, timing: Timing) -> None:
        self.gateway = gateway
        self.engine = gateway.engine
        self.traffic = traffic
        self.timing = timing

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/models/{model_id:path}", self.model, methods=["GET"]),
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/v1/completions", self.completions, methods=["POST"]),
            Route("/v1/embeddings", self.embeddings, methods=["POST"]),
        ]

    def _chain_names(self) -> list[str]:
        return sorted(self.engine.chains.chains)

    def _model_docs(self) -> list[dict[str, Any]]:
        docs = [
            # "capabilities" in Ollama's words (not in OpenAI's schema; clients ignore what they do not read).
            {
                "id": e.id,
                "object": "model",
                "created": 0,
                "owned_by": e.provider,
                "capabilities": capabilities(e),
            }
            for e in self.engine.registry.models
            if e.status == "available"
        ]
        docs += [
            {"id": v, "object": "model", "created": 0, "owned_by": "jarvis"}
            for v in virtual_ids(self._chain_names())
        ]
        return docs

    async def models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": self._model_docs()})

    async def model(self, request: Request) -> Response:
        wanted = request.path_params["model_id"]
        doc = next((d for d in self._model_docs() if d["id"] == wanted), None)
        if doc is None:
            return error_response(
                404, f"The model '{wanted}' does not exist here; GET /v1/models lists them."
            )
        return JSONResponse(doc)

    def _created(self) -> int:
        return int(self.engine.orchestrator.clock.time())

    async def chat(self, request: Request) -> Response:
        try:
            body = await parse.json_body(request)
            route = await self.gateway.resolve(parse.model_name(body))
            messages = parse.messages(body.get("messages"))
            options = with_tools(body, parse.openai_options(body))
            exclude = tool_exclude(route, self.engine.registry, options)
        except (parse.BadRequest, BadTools, ToolsRefused) as err:
            return error_response(400, str(err))
        except UnknownModel as err:
            return error_response(404, str(err))
        req = ServedRequest(route, messages, options, exclude=exclude)
        return await self._answer(request, req, body, "chat")

    async def completions(self, request: Request) -> Response:
        try:
            body = await parse.json_body(request)
            route = await self.gateway.resolve(parse.model_name(body))
            prompt = parse.texts(body.get("prompt"), "prompt")
            if len(prompt) != 1:
                raise parse.BadRequest("`prompt` must be one string: send one prompt per request.")
            options = parse.openai_options(body)
            suffix = body.get("suffix")
            if suffix is not None and not isinstance(suffix, str):
                raise parse.BadRequest("`suffix` must be a string (the text after the cursor).")
        except parse.BadRequest as err:
            return error_response(400, str(err))
        except UnknownModel as err:
            return error_response(404, str(err))
        if suffix:
            # Fill in the middle: the backend's FIM tokens around prompt and suffix, no chat template.
            try:
                fim = fim_request(route, self.engine.registry, prompt[0], suffix)
            except FimRefused as err:
                return error_response(400, str(err))
            req = ServedRequest(route, fim.messages, options, exclude=fim.exclude, infill=fim.infill)
            return await self._answer(request, req, body, "text")
        raw = raw_request(route, self.engine.registry, prompt[0])
        if raw is not None:
            # A legacy completion is raw text: the prompt as it is (an editor's own FIM prompt included).
            req = ServedRequest(route, raw.messages, options, exclude=raw.exclude, infill=raw.infill)
            return await self._answer(request, req, body, "text")
        # A chain, or a backend without raw completions (cloud): a chat asked to continue the text.
        messages = [Message("system", CONTINUE_INSTRUCTION), Message("user", prompt[0])]
        req = ServedRequest(route, messages, options)
        return await self._answer(request, req, body, "text")

    async def _answer(
        self, request: Request, req: ServedRequest, body: dict[str, Any], kind: str
    ) -> Response:
        stream_options = body.get("stream_options") or {}
        include_usage = bool(isinstance(stream_options, dict) and stream_options.get("include_usage"))
        encoder = ChatEncoder(req, self._created(), kind, include_usage)
        return await answer(
            request,
            self.gateway,
            req,
            encoder,
            stream=bool(body.get("stream")),
            traffic=self.traffic,
            timing=self.timing,
        )

    async def embeddings(self, request: Request) -> Response:
        try:
            body = await parse.json_body(request)
            name = parse.model_name(body)
            texts = parse.texts(body.get("input"))
        except parse.BadRequest as err:
            return error_response(400, str(err))
        try:
            result = await embed(self.engine, name, texts)
        except EmbedFailed as err:
            return error_response(err.status, str(err), err.headers())
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(result.vectors)]
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": result.model,
                "usage": {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens},
            },
            headers={"X-Jarvis-Model": result.model, "X-Jarvis-Attempts": "1", "X-Jarvis-Fallbacks": ""},
        )
