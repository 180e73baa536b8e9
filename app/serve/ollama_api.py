"""The Ollama-compatible API under /api: version, tags, ps, show, chat, generate, embed (shapes of ollama's
api/types.go). A tool that only speaks Ollama then sees every Jarvis model, LM Studio's and cloud ones too.

Streams are NDJSON (one JSON object a line) ending with ``done: true``, ``done_reason`` and nanosecond
durations; errors are ``{"error": "..."}`` (mid-stream: one such line, then the end).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from jarvis.providers.errors import ProviderError
from jarvis.providers.lifecycle import NotOffered
from jarvis.providers.registry import ModelEntry
from jarvis.providers.types import Message

from . import parse
from .embeddings import EmbedFailed, embed
from .gateway import Failed, Finished, Gateway, ServedRequest, Text
from .models import FimRefused, UnknownModel, fim_capable, fim_request, raw_request, virtual_ids
from .respond import Timing, Traffic, answer, retry_headers
from .tools import (
    BadTools,
    ToolsRefused,
    any_tools_capable,
    ollama_calls,
    tool_exclude,
    tools_capable,
    with_tools,
)

#: What /api/version answers: at least 0.6.4, the version VS Code Copilot requires.
OLLAMA_VERSION = "0.9.6"
_NS = 1_000_000_000


def _zero_keep_alive(value: Any) -> bool:
    """keep_alive 0 as Ollama reads it: a number of seconds or a Go duration ("0", "0s", "0m")."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value == 0
    return isinstance(value, str) and value.strip() in ("0", "0s", "0m", "0h")


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def digest(model_id: str) -> str:
    """A stable sha256-shaped digest (clients compare digests; Zed's parser requires one)."""
    return hashlib.sha256(model_id.encode()).hexdigest()


def rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def details(entry: ModelEntry | None) -> dict[str, Any]:
    info = entry.info if entry is not None else None
    family = (info.family if info else None) or ("jarvis" if entry is None else entry.provider_kind)
    return {
        "parent_model": "",
        "format": "gguf",
        "family": family,
        "families": [family],
        "parameter_size": (info.parameter_size if info else None) or "",
        "quantization_level": (info.quantization if info else None) or "",
    }


#: /api/show's template for a model that fills in the middle: editors (Continue) look for ".Suffix" in it to
#: send suffixes; the backend puts the model's own FIM tokens where this shows the branch.
INSERT_TEMPLATE = (
    "{{- if .Suffix }}<fim_prefix>{{ .Prompt }}<fim_suffix>{{ .Suffix }}<fim_middle>"
    "{{- else }}{{ .Prompt }}{{- end }}"
)


def ollama_name(name: str) -> str:
    """A model name as Ollama's errors print it: registry.ollama.ai/library/<name>:<tag>."""
    parts = name.split("/")
    base = parts[-1] if ":" in parts[-1] else parts[-1] + ":latest"
    namespace = parts[-2] if len(parts) > 1 else "library"
    host = parts[-3] if len(parts) > 2 else "registry.ollama.ai"
    return f"{host}/{namespace}/{base}"


def capabilities(entry: ModelEntry | None) -> list[str]:
    """Ollama's capability words for ours; "tools" where the backend can call functions."""
    if entry is None:
        return ["completion"]
    caps = []
    if {"chat", "completion", "code"} & entry.capabilities or not entry.capabilities:
        caps.append("completion")
    if "embeddings" in entry.capabilities:
        caps.append("embedding")
    if "vision" in entry.capabilities:
        caps.append("vision")
    if fim_capable(entry):
        caps.append("insert")
    if tools_capable(entry):
        caps.append("tools")
    return caps


@dataclass
class NdjsonEncoder:
    req: ServedRequest
    now: Callable[[], float]
    #: "message" for /api/chat, "response" for /api/generate.
    field_name: str = "message"
    media_type: str = "application/x-ndjson"
    keepalive: bytes | None = None

    def _base(self) -> dict[str, Any]:
        return {"model": self.req.model or self.req.route.requested, "created_at": rfc3339(self.now())}

    def _piece(self, text: str) -> dict[str, Any]:
        if self.field_name == "message":
            return {"message": {"role": "assistant", "content": text}}
        return {"response": text}

    def error(self, failed: Failed, headers: dict[str, str]) -> Response:
        return error_response(failed.status, failed.message, retry_headers(failed, headers))

    def _final(self, finished: Finished) -> dict[str, Any]:
        u = finished.usage
        total = u.total_s or 0.0
        ttft = min(u.ttft_s or 0.0, total)
        reason = "length" if finished.finish_reason in ("length", "max_tokens") else "stop"
        return {
            "done": True,
            "done_reason": reason,
            "total_duration": int(total * _NS),
            "load_duration": 0,
            "prompt_eval_count": u.prompt_tokens or 0,
            "prompt_eval_duration": int(ttft * _NS),
            "eval_count": u.completion_tokens or 0,
            "eval_duration": int((total - ttft) * _NS),
        }

    def chunk(self, event: Text | Finished | Failed) -> tuple[bytes, bool]:
        if isinstance(event, Text):
            doc = {**self._base(), **self._piece(event.text), "done": False}
            return json.dumps(doc).encode() + b"\n", False
        if isinstance(event, Finished):
            calls = b""
            if event.tool_calls:
                # As Ollama does: the whole calls on a line of their own, before the final one.
                message = {"role": "assistant", "content": "", "tool_calls": ollama_calls(event.tool_calls)}
                calls = json.dumps({**self._base(), "message": message, "done": False}).encode() + b"\n"
            doc = {**self._base(), "model": event.model or self._base()["model"], **self._piece("")}
            return calls + json.dumps({**doc, **self._final(event)}).encode() + b"\n", True
        return json.dumps({"error": event.message}).encode() + b"\n", True

    def whole(self, text: str, finished: Finished) -> dict[str, Any]:
        piece = self._piece(text)
        if finished.tool_calls and self.field_name == "message":
            piece["message"]["tool_calls"] = ollama_calls(finished.tool_calls)
        return {**self._base(), "model": finished.model, **piece, **self._final(finished)}


class OllamaApi:
    def __init__(self, gateway: Gateway, traffic: Traffic, timing: Timing) -> None:
        self.gateway = gateway
        self.engine = gateway.engine
        self.traffic = traffic
        self.timing = timing

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.root, methods=["GET", "HEAD"]),
            Route("/api/version", self.version, methods=["GET"]),
            Route("/api/tags", self.tags, methods=["GET"]),
            Route("/api/ps", self.ps, methods=["GET"]),
            Route("/api/show", self.show, methods=["POST"]),
            Route("/api/chat", self.chat, methods=["POST"]),
            Route("/api/generate", self.generate, methods=["POST"]),
            Route("/api/embed", self.embed, methods=["POST"]),
            Route("/api/embeddings", self.embeddings_legacy, methods=["POST"]),
        ]

    def _chain_names(self) -> list[str]:
        return sorted(self.engine.chains.chains)

    def _now(self) -> float:
        return self.engine.orchestrator.clock.time()

    async def root(self, request: Request) -> Response:
        return PlainTextResponse("Ollama is running")

    async def version(self, request: Request) -> Response:
        return JSONResponse({"version": OLLAMA_VERSION})

    def _listing(self, entry: ModelEntry | None, name: str) -> dict[str, Any]:
        info = entry.info if entry is not None else None
        return {
            "name": name,
            "model": name,
            "modified_at": rfc3339(self._now()),
            "size": (info.size_bytes if info else None) or 0,
            "digest": digest(name),
            "details": details(entry),
        }

    async def tags(self, request: Request) -> Response:
        models = [self._listing(e, e.id) for e in self.engine.registry.models if e.status == "available"]
        models += [self._listing(None, v) for v in virtual_ids(self._chain_names())]
        return JSONResponse({"models": models})

    async def ps(self, request: Request) -> Response:
        """What the local backends hold in memory now (each asked, as `jarvis models ps` does): the
        registry's "loaded" is only as fresh as the last discovery."""
        lifecycle = self.engine.lifecycle
        loaded = (await lifecycle.loaded())[0] if lifecycle is not None else []
        models = []
        for m in loaded:
            doc = self._listing(self.engine.registry.lookup(m.id), m.id)
            del doc["modified_at"]
            if m.size_bytes:
                doc["size"] = m.size_bytes
            expires = m.expires_at.timestamp() if m.expires_at else self._now() + 300
            doc.update(
                {
                    "expires_at": rfc3339(expires),
                    "size_vram": m.size_vram or 0,
                    "context_length": m.context_length or 0,
                }
            )
            models.append(doc)
        return JSONResponse({"models": models})

    async def show(self, request: Request) -> Response:
        try:
            body = await parse.json_body(request)
            name = parse.model_name(body)
            route = await self.gateway.resolve(name)
        except parse.BadRequest as err:
            return error_response(400, str(err))
        except UnknownModel:
            return error_response(404, f"model '{name}' not found")
        entry = self.engine.registry.lookup(route.model_id) if route.model_id else None
        arch = ((entry.info.family if entry else None) or "llama").lower()
        context = (entry.context_length if entry else None) or self._virtual_context()
        caps = self._capabilities(route.kind, entry)
        return JSONResponse(
            {
                "license": "",
                "modelfile": f"# served by jarvis\nFROM {name}\n",
                "parameters": "",
                "template": INSERT_TEMPLATE if "insert" in caps else "{{ .Prompt }}",
                "details": details(entry),
                "model_info": {"general.architecture": arch, f"{arch}.context_length": context},
                "capabilities": caps,
                "modified_at": rfc3339(self._now()),
            }
        )

    def _capabilities(self, kind: str, entry: ModelEntry | None) -> list[str]:
        caps = capabilities(entry)
        if kind in ("auto", "code") and any_tools_capable(self.engine.registry, code=kind == "code"):
            caps.append("tools")  # a virtual model with tools picks among the tool-capable models
        if kind in ("auto", "code") and any(fim_capable(e) for e in self.engine.registry.models):
            caps.append("insert")  # with a suffix it picks among the models that fill in the middle
        return caps

    def _virtual_context(self) -> int:
        """A virtual model may route anywhere: the largest window any model has."""
        return max((e.context_length or 0 for e in self.engine.registry.models), default=0) or 4096

    async def chat(self, request: Request) -> Response:
        try:
            body = await parse.json_body(request)
            route = await self.gateway.resolve(parse.model_name(body))
            messages = parse.messages(body.get("messages"))
            options = with_tools(body, parse.ollama_options(body))
            exclude = tool_exclude(route, self.engine.registry, options)
        except (parse.BadRequest, BadTools) as err:
            return error_response(400, str(err))
        except ToolsRefused as err:
            # Ollama's own words first (clients match them), then where tools can go.
            named = f"{route.requested} does not support tools; {err.where}." if err.named else str(err)
            return error_response(400, named)
        except UnknownModel as err:
            return error_response(404, str(err))
        req = ServedRequest(route, messages, options, exclude=exclude)
        return await self._answer(request, req, body, "message")

    async def generate(self, request: Request) -> Response:
        try:
            body = await parse.json_body(request)
            name = parse.model_name(body)
            route = await self.gateway.resolve(name)
            prompt, suffix, system = (
                "" if body.get(k) is None else body[k] for k in ("prompt", "suffix", "system")
            )
            if not all(isinstance(v, str) for v in (prompt, suffix, system)):
                raise parse.BadRequest("`prompt`, `suffix` and `system` must be strings.")
            if not isinstance(body.get("raw", False), bool):
                raise parse.BadRequest("`raw` must be true or false.")
            options = parse.ollama_options(body)
        except parse.BadRequest as err:
            return error_response(400, str(err))
        except UnknownModel:
            return error_response(404, f"model '{name}' not found")
        if not prompt and not suffix:
            # Ollama loads the model (with keep_alive 0: unloads it) and answers at once: clients warm a
            # model up, or free its memory, this way.
            reason = "unload" if _zero_keep_alive(body.get("keep_alive")) else "load"
            lifecycle = self.engine.lifecycle
            if route.model_id is not None and lifecycle is not None:
                try:
                    if reason == "load":
                        await lifecycle.load(route.model_id)
                    else:
                        await lifecycle.unload(route.model_id)
                except NotOffered:
                    pass  # a backend without that action: nothing to do, as for a virtual model
                except ProviderError as err:
                    return error_response(500, str(err))
            return JSONResponse(
                {
                    "model": name,
                    "created_at": rfc3339(self._now()),
                    "response": "",
                    "done": True,
                    "done_reason": reason,
                }
            )
        if suffix:
            # Fill in the middle through the backend's FIM path, never the chat template. (Ollama itself
            # drops the suffix when `raw` is set; an editor sending one wants the middle, so it is kept.)
            try:
                fim = fim_request(route, self.engine.registry, prompt, suffix)
            except FimRefused as err:
                # Ollama's own words for a model without the insert capability (clients match them).
                refused = f"{ollama_name(name)} does not support insert" if err.named else str(err)
                return error_response(400, refused)
            req = ServedRequest(route, fim.messages, options, exclude=fim.exclude, infill=fim.infill)
            return await self._answer(request, req, body, "response")
        raw = raw_request(route, self.engine.registry, prompt) if body.get("raw") is True else None
        if raw is not None:
            # raw: the prompt as it is, no template (editors send their own FIM prompts this way).
            req = ServedRequest(route, raw.messages, options, exclude=raw.exclude, infill=raw.infill)
            return await self._answer(request, req, body, "response")
        messages = ([Message("system", system)] if system else []) + [Message("user", prompt)]
        req = ServedRequest(route, messages, options)
        return await self._answer(request, req, body, "response")

    async def _answer(
        self, request: Request, req: ServedRequest, body: dict[str, Any], field_name: str
    ) -> Response:
        encoder = NdjsonEncoder(req, self._now, field_name)
        return await answer(
            request,
            self.gateway,
            req,
            encoder,
            stream=body.get("stream", True) is not False,
            traffic=self.traffic,
            timing=self.timing,
        )

    async def embed(self, request: Request) -> Response:
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
        return JSONResponse(
            {
                "model": result.model,
                "embeddings": result.vectors,
                "total_duration": int(result.seconds * _NS),
                "load_duration": 0,
                "prompt_eval_count": result.prompt_tokens,
            },
            headers={"X-Jarvis-Model": result.model},
        )

    async def embeddings_legacy(self, request: Request) -> Response:
        """The old single-text endpoint some clients still call: {"model", "prompt"} → {"embedding"}."""
        try:
            body = await parse.json_body(request)
            name = parse.model_name(body)
            texts = parse.texts(body.get("prompt"), "prompt")
        except parse.BadRequest as err:
            return error_response(400, str(err))
        try:
            result = await embed(self.engine, name, texts)
        except EmbedFailed as err:
            return error_response(err.status, str(err), err.headers())
        return JSONResponse({"embedding": result.vectors[0]}, headers={"X-Jarvis-Model": result.model})
