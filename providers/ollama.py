"""Ollama over its native /api with the official `ollama` AsyncClient; one instance per host."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import ollama

from . import gguf, http_errors, tool_calls
from .base import Provider
from .errors import BadResponse, ContextOverflow, ProviderError
from .openai_compat import guess_capabilities, is_loopback
from .timing import StreamClock
from .tokens import estimate_prompt_tokens
from .types import Delta, GenerationOptions, Infill, Message, ModelInfo, StreamChunk, ToolCall

DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"
#: Sent when the caller names none: Ollama's own default depends on version and VRAM,
#: and a prompt longer than it is cut from the front without an error (ollama #3839).
DEFAULT_NUM_CTX = 4096

_CAPABILITY_MAP = {
    "completion": ("completion", "chat"),
    "tools": ("function_calling",),
    "vision": ("vision",),
    "embedding": ("embeddings",),
    # "insert": the model's template uses .Suffix, so /api/generate with a suffix fills in the middle.
    "insert": ("completion", "fim"),
}


def normalise_host(host: str | None) -> str:
    """Accepts what OLLAMA_HOST accepts: "host", "host:port", "http://host:port"."""
    host = (host or "").strip() or DEFAULT_OLLAMA_HOST
    if "://" not in host:
        host = "http://" + host
    url = httpx.URL(host)
    port = url.port or (443 if url.scheme == "https" else 11434)
    hostname = url.host or "127.0.0.1"
    if hostname == "0.0.0.0":
        hostname = "127.0.0.1"
    return f"{url.scheme}://{hostname}:{port}"


def host_from_env() -> str:
    return normalise_host(os.environ.get("OLLAMA_HOST"))


def keep_alive_value(value: str | float | None) -> str | float | None:
    """keep_alive as Ollama's api.Duration reads it: a bare number is seconds (negative = forever), so
    a config's "-1" or "300" goes as a number; "5m" stays a Go duration string."""
    if isinstance(value, str):
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            return value.strip() or None
    return value


class OllamaProvider(Provider):
    kind = "ollama"
    raw_completion = True

    def __init__(
        self,
        name: str = "ollama",
        host: str = DEFAULT_OLLAMA_HOST,
        *,
        timeout: float = 120.0,
        connect_timeout: float = 3.0,
        num_ctx: int = DEFAULT_NUM_CTX,
        keep_alive: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        show_cache: dict[str, tuple[str, dict[str, Any]]] | None = None,
        model_keep_alive: dict[str, str] | None = None,
    ) -> None:
        super().__init__(name)
        self.host = normalise_host(host)
        self.num_ctx = num_ctx
        self.keep_alive = keep_alive
        #: keep_alive per model name (from the config's [lifecycle] keep_alive), over the host's default.
        self.model_keep_alive = dict(model_keep_alive or {})
        extra = {"transport": transport} if transport is not None else {}
        timeouts = httpx.Timeout(timeout, connect=connect_timeout)
        self._client = ollama.AsyncClient(host=self.host, timeout=timeouts, **extra)
        #: model -> (digest, /api/show as JSON); the app may persist it between runs.
        self.show_cache: dict[str, tuple[str, dict[str, Any]]] = {} if show_cache is None else show_cache

    @property
    def address(self) -> str:
        return self.host

    @property
    def client(self) -> ollama.AsyncClient:
        """The official client, for the lifecycle actions (providers/lifecycle_ollama.py)."""
        return self._client

    def keep_alive_for(self, model: str) -> str | float | None:
        return keep_alive_value(self.model_keep_alive.get(model, self.keep_alive))

    start_hint = "Start Ollama (`ollama serve`) or fix the host in your config / OLLAMA_HOST."

    def _error(self, err: Exception, model: str = "", partial: str = "") -> ProviderError:
        if isinstance(err, ProviderError):
            return err
        if isinstance(err, ollama.ResponseError):
            # A failure mid-stream arrives as {"error": ...} under HTTP 200: the client gives status -1.
            status = err.status_code if err.status_code and err.status_code > 0 else 500
            if isinstance(err.error, str):
                detail = err.error
            else:
                detail = http_errors.error_message(json.dumps({"error": err.error}))
            mapped = http_errors.from_status(
                status, detail, provider=self.name, model=model, address=self.address
            )
            if partial and mapped.transient:
                return BadResponse(
                    f"{self.name} failed mid-answer: {err.error}",
                    partial_text=partial,
                    provider=self.name,
                    model=model,
                )
            return mapped
        if isinstance(err, ValueError):  # a line that is not JSON
            return BadResponse(
                f"{self.name} sent a malformed stream line.",
                partial_text=partial,
                provider=self.name,
                model=model,
            )
        if isinstance(err, (httpx.HTTPError, ConnectionError, OSError)):
            return http_errors.from_transport(
                err,
                provider=self.name,
                model=model,
                address=self.address,
                partial_text=partial,
                hint=self.start_hint,
            )
        return BadResponse(f"{self.name} answered unexpectedly: {err}", provider=self.name, model=model)

    async def _show(self, model: str, digest: str | None = None) -> dict[str, Any]:
        """/api/show, cached per model; a listing with a new digest refreshes it.

        Cached so that a chat request costs one round trip, not two.
        """
        cached = self.show_cache.get(model)
        if cached is None or (digest is not None and cached[0] != digest):
            try:
                show = await self._client.show(model)
            except Exception as err:
                raise self._error(err, model) from None
            cached = self.show_cache[model] = (digest or "", show.model_dump(mode="json", by_alias=False))
        return cached[1]

    async def list_models(self) -> list[ModelInfo]:
        try:
            tags, ps = await asyncio.gather(self._client.list(), self._client.ps())
        except Exception as err:
            raise self._error(err) from None
        loaded = {m.model: m for m in ps.models}
        sem = asyncio.Semaphore(8)

        async def describe(name: str, m: ollama.ListResponse.Model) -> ModelInfo:
            async with sem:
                try:
                    show = await self._show(name, m.digest or "")
                except ProviderError:
                    show = {}
            return self._info(name, m.size, m.details, show, loaded.get(name))

        # The client types a listed model's name as optional; a nameless entry cannot be asked for.
        return list(await asyncio.gather(*(describe(m.model, m) for m in tags.models if m.model)))

    async def model_info(self, model: str) -> ModelInfo:
        show = await self._show(model)
        try:
            ps = await self._client.ps()
            running = next((m for m in ps.models if m.model == model), None)
        except Exception:
            running = None
        return self._info(model, None, show.get("details"), show, running)

    def _info(
        self, name: str, size: int | None, details: Any, show: dict[str, Any], running: Any
    ) -> ModelInfo:
        geo = gguf.geometry(show.get("modelinfo") or {})
        caps: set[str] = set()
        for c in show.get("capabilities") or ():
            caps.update(_CAPABILITY_MAP.get(c, ()))
        if not caps:
            caps = set(guess_capabilities(name))
        elif "code" in guess_capabilities(name):
            caps.add("code")
        d = details if isinstance(details, dict) else (details.model_dump() if details is not None else {})
        return ModelInfo(
            provider=self.name,
            name=name,
            context_length=geo.get("context_length"),
            size_bytes=size,
            capabilities=frozenset(caps),
            family=d.get("family"),
            parameter_size=d.get("parameter_size"),
            quantization=d.get("quantization_level"),
            loaded=running is not None,
            geometry=geo,
            local=is_loopback(self.host),
            details={"running_size": getattr(running, "size", None), "parameters": show.get("parameters")},
        )

    def choose_num_ctx(
        self, needed_tokens: int, options: GenerationOptions, context_length: int | None
    ) -> int:
        """The num_ctx to send: the caller's, else our default raised to fit the prompt."""
        if options.num_ctx:
            return options.num_ctx
        want = max(self.num_ctx, needed_tokens)
        return min(want, context_length) if context_length else want

    async def _request_options(
        self, model: str, estimate: int, options: GenerationOptions, hint: str
    ) -> dict[str, Any]:
        """Ollama's ``options`` for a prompt of about ``estimate`` tokens: num_ctx always (never Ollama's
        default), raising ContextOverflow where the prompt would not fit (Ollama would silently drop its
        beginning)."""
        needed = estimate + (options.max_tokens or 0)
        context_length = None
        if not options.num_ctx:
            try:
                context_length = _context_length((await self._show(model)).get("modelinfo") or {})
            except ProviderError:
                pass  # a missing model is reported by /api/chat or /api/generate itself, in Ollama's words
        num_ctx = self.choose_num_ctx(needed, options, context_length)
        if estimate > num_ctx:
            raise ContextOverflow(
                f"The prompt (about {estimate} tokens) does not fit {model}'s {num_ctx}-token context;"
                " Ollama would silently drop its beginning.",
                hint=hint,
                needed=needed,
                window=num_ctx,
                provider=self.name,
                model=model,
            )
        opts: dict[str, Any] = {"num_ctx": num_ctx}
        for field, key in (
            ("temperature", "temperature"),
            ("top_p", "top_p"),
            ("seed", "seed"),
            ("max_tokens", "num_predict"),
        ):
            value = getattr(options, field)
            if value is not None:
                opts[key] = value
        if options.stop:
            opts["stop"] = list(options.stop)
        return opts

    async def stream_chat(
        self, model: str, messages: Sequence[Message], options: GenerationOptions | None = None
    ) -> AsyncIterator[StreamChunk]:
        options = options or GenerationOptions()
        estimate = estimate_prompt_tokens(messages)
        opts = await self._request_options(model, estimate, options, "Shorten the prompt or raise num_ctx.")
        clock = StreamClock()
        final = None
        calls: list[ToolCall] = []
        # Tools ride along only when offered: Ollama refuses them (400) for a model without the capability.
        tools = [t.as_openai() for t in options.tools or ()] if tool_calls.wants_tools(options) else None
        try:
            stream = await self._client.chat(
                model=model,
                messages=tool_calls.ollama_messages(messages),
                stream=True,
                options=opts,
                keep_alive=self.keep_alive_for(model),
                tools=tools,
            )
            async for part in stream:
                text = part.message.content if part.message else None
                if text:
                    clock.mark(text)
                    yield Delta(text)
                if part.message and part.message.tool_calls:
                    # Whole calls, not pieces (arguments an object, no id in older releases).
                    calls.extend(tool_calls.from_ollama(part.message.tool_calls))
                if part.done:
                    final = part
                    break
        except Exception as err:
            raise self._error(err, model, clock.text) from None
        if final is None:
            raise BadResponse(
                f"The stream from {self.name} ended before the answer was complete.",
                partial_text=clock.text,
                provider=self.name,
                model=model,
            )
        warnings: tuple[str, ...] = ()
        if final.prompt_eval_count and final.prompt_eval_count < estimate * 0.4 and estimate > 64:
            warnings = (
                f"Ollama evaluated {final.prompt_eval_count} prompt tokens where about {estimate}"
                " were sent: the prompt may have been truncated.",
            )
        decode_s = final.eval_duration / 1e9 if final.eval_duration else None
        done = clock.finish(
            provider=self.name,
            model=model,
            prompt_tokens=final.prompt_eval_count,
            completion_tokens=final.eval_count,
            finish_reason=final.done_reason,
            prompt_estimate=estimate,
            decode_seconds=decode_s,
            warnings=warnings,
        )
        # Ollama says "stop" after calls; ours is OpenAI's word, the same for every backend.
        yield tool_calls.with_calls(done, calls)

    async def stream_infill(
        self, model: str, infill: Infill, options: GenerationOptions | None = None
    ) -> AsyncIterator[StreamChunk]:
        """/api/generate with ``suffix``: Ollama renders the model's template with .Prompt and .Suffix
        (its FIM tokens); not ``raw``, which would drop the suffix. A model whose template has no suffix
        support is a 400 "... does not support insert". Without a suffix: ``raw``, the prompt as it is."""
        options = options or GenerationOptions()
        estimate = estimate_prompt_tokens(infill.as_messages())
        opts = await self._request_options(
            model, estimate, options, "Send less of the file, or raise num_ctx."
        )
        clock = StreamClock()
        final = None
        try:
            stream = await self._client.generate(
                model=model,
                prompt=infill.prompt,
                # Ollama reads "" as no suffix (and applies the chat template): a cursor at the end of a
                # file still fills in the middle, before the newline every file ends with.
                suffix=(infill.suffix or "\n") if infill.fim else "",
                raw=not infill.fim,
                stream=True,
                options=opts,
                keep_alive=self.keep_alive_for(model),
            )
            async for part in stream:
                if part.response:
                    clock.mark(part.response)
                    yield Delta(part.response)
                if part.done:
                    final = part
                    break
        except Exception as err:
            raise self._error(err, model, clock.text) from None
        if final is None:
            raise BadResponse(
                f"The stream from {self.name} ended before the middle was complete.",
                partial_text=clock.text,
                provider=self.name,
                model=model,
            )
        yield clock.finish(
            provider=self.name,
            model=model,
            prompt_tokens=final.prompt_eval_count,
            completion_tokens=final.eval_count,
            finish_reason=final.done_reason,
            prompt_estimate=estimate,
            decode_seconds=final.eval_duration / 1e9 if final.eval_duration else None,
        )

    async def embed(self, model: str, texts: Sequence[str]) -> list[list[float]]:
        try:
            resp = await self._client.embed(model=model, input=list(texts))
        except Exception as err:
            raise self._error(err, model) from None
        return [list(v) for v in resp.embeddings]

    async def close(self) -> None:
        await self._client._client.aclose()


def _context_length(model_info: dict[str, Any]) -> int | None:
    return gguf.geometry(model_info).get("context_length")
