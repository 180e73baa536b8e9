"""Generic OpenAI-compatible provider over httpx: vLLM, llama-server, a LiteLLM proxy, a LAN GPU box."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx

from . import fim, http_errors, tool_calls
from .base import Provider
from .errors import BadResponse, ContextOverflow, ProviderError
from .timing import StreamClock
from .tokens import estimate_prompt_tokens
from .types import Completion, Delta, GenerationOptions, Infill, Message, ModelInfo, StreamChunk

_CODE_WORDS = (
    "coder",
    "code",
    "starcoder",
    "codestral",
    "deepseek-coder",
    "devstral",
    "codellama",
    "qwen2.5-coder",
)


def is_loopback(url: str) -> bool:
    host = httpx.URL(url).host
    return host in ("localhost", "::1") or host.startswith("127.")


def guess_capabilities(name: str, kind: str = "llm") -> frozenset[str]:
    """Name heuristics for servers that do not describe their models."""
    low = name.lower()
    if kind == "embeddings" or "embed" in low:
        return frozenset({"embeddings"})
    caps = {"completion", "chat"}
    if any(w in low for w in _CODE_WORDS):
        caps.add("code")
    if fim.template_for(low) is not None:
        # Only a guess (these servers cannot say whether a model fills in the middle): a family whose
        # FIM template is known; stream_infill sends that template as a raw prompt.
        caps.add("fim")
    if kind == "vlm" or any(w in low for w in ("llava", "vision", "-vl", "vl-")):
        caps.add("vision")
    return frozenset(caps)


class OpenAICompatProvider(Provider):
    """Speaks /v1/models, /v1/chat/completions (SSE) and /v1/embeddings."""

    kind = "openai"
    raw_completion = True
    start_hint = "Start the server, or fix its base_url in your config."

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        connect_timeout: float = 3.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(name)
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        #: Context windows learned from the last listing, for the pre-send check.
        self._windows: dict[str, int] = {}
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            transport=transport,
        )

    @property
    def address(self) -> str:
        return self.base_url

    @property
    def _secrets(self) -> tuple[str, ...]:
        return (self._api_key,) if self._api_key else ()

    def _status_error(self, resp: httpx.Response, body: bytes, model: str) -> ProviderError:
        return http_errors.from_status(
            resp.status_code,
            http_errors.error_message(body),
            provider=self.name,
            model=model,
            address=self.address,
            retry_after=resp.headers.get("retry-after"),
            secrets=self._secrets,
        )

    def _transport_error(self, err: Exception, model: str, partial: str = "") -> ProviderError:
        return http_errors.from_transport(
            err,
            provider=self.name,
            model=model,
            address=self.address,
            partial_text=partial,
            hint=self.start_hint,
        )

    async def _get_json(self, path: str, model: str = "") -> Any:
        try:
            resp = await self._client.get(path)
        except httpx.HTTPError as err:
            raise self._transport_error(err, model) from None
        if resp.status_code >= 400:
            raise self._status_error(resp, resp.content, model)
        try:
            return resp.json()
        except ValueError:
            raise BadResponse(
                f"{self.name} at {self.address} sent something that is not JSON for {path}.",
                provider=self.name,
            ) from None

    def remember_windows(self, models: list[ModelInfo]) -> list[ModelInfo]:
        self._windows = {m.name: m.context_length for m in models if m.context_length}
        return models

    async def list_models(self) -> list[ModelInfo]:
        data = await self._get_json("/v1/models")
        local = is_loopback(self.base_url)
        out = []
        for item in data.get("data", []) if isinstance(data, dict) else []:
            mid = str(item.get("id", ""))
            if not mid:
                continue
            meta = item.get("meta") or {}
            out.append(
                ModelInfo(
                    provider=self.name,
                    name=mid,
                    # vLLM reports max_model_len; llama-server puts n_ctx_train under meta.
                    context_length=(
                        item.get("max_model_len") or meta.get("n_ctx_train") or item.get("context_length")
                    ),
                    size_bytes=meta.get("size"),
                    capabilities=guess_capabilities(mid),
                    local=local,
                    details={"owned_by": item.get("owned_by")},
                )
            )
        return self.remember_windows(out)

    def _chat_payload(
        self, model: str, messages: Sequence[Message], options: GenerationOptions
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "messages": [m.as_dict() for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        for field in ("temperature", "top_p", "seed", "max_tokens"):
            value = getattr(options, field)
            if value is not None:
                body[field] = value
        if options.stop:
            body["stop"] = list(options.stop)
        body.update(tool_calls.openai_tools(options))
        return body

    async def stream_chat(
        self, model: str, messages: Sequence[Message], options: GenerationOptions | None = None
    ) -> AsyncIterator[StreamChunk]:
        options = options or GenerationOptions()
        estimate = estimate_prompt_tokens(messages)
        window = self._windows.get(model)
        if window and estimate + (options.max_tokens or 0) > window:
            raise ContextOverflow(
                f"The prompt (about {estimate} tokens) plus {options.max_tokens or 0} answer tokens"
                f" does not fit {model}'s {window}-token context window.",
                hint="Shorten the prompt or lower max_tokens.",
                needed=estimate + (options.max_tokens or 0),
                window=window,
                provider=self.name,
                model=model,
            )
        body = self._chat_payload(model, messages, options)
        clock = StreamClock()
        usage: dict[str, Any] = {}
        finish_reason = None
        served_model = None
        calls = tool_calls.ToolCallAccumulator()
        try:
            async with self._client.stream("POST", "/v1/chat/completions", json=body) as resp:
                if resp.status_code >= 400:
                    raise self._status_error(resp, await resp.aread(), model)
                lines = resp.aiter_lines()
                async for line in lines:
                    if not line.startswith("data:"):
                        continue  # SSE comments, event names, keep-alives
                    data = line[5:].strip()
                    if data == "[DONE]":
                        # Read the (empty) rest: an unread body makes httpx close the kept-alive connection,
                        # and the next request would pay a new one (jarvis serve's added latency).
                        async for _rest in lines:
                            pass
                        break
                    chunk = self._chunk(data, model, clock.text)
                    served_model = served_model or chunk.get("model")
                    if chunk.get("usage"):
                        usage = chunk["usage"]
                    for choice in chunk.get("choices") or ():
                        delta = choice.get("delta") or {}
                        text = delta.get("content")
                        if text:
                            clock.mark(text)
                            yield Delta(text)
                        calls.add_delta(delta.get("tool_calls"))
                        if choice.get("finish_reason"):
                            finish_reason = choice["finish_reason"]
                else:
                    if finish_reason is None:
                        # Ended without [DONE] or a finish reason: the stream was cut. llama.cpp's
                        # server does this, under HTTP 200, when the prompt exceeds its context.
                        why = (
                            (
                                "closed the stream without answering (it may have rejected the prompt,"
                                " e.g. as too long for the model's context window)"
                            )
                            if not clock.pieces
                            else "ended the stream before the answer was complete"
                        )
                        raise BadResponse(
                            f"{self.name} {why}.",
                            partial_text=clock.text,
                            provider=self.name,
                            model=model,
                        )
        except httpx.HTTPError as err:
            raise self._transport_error(err, model, clock.text) from None
        final = self._final(clock, model, messages, usage, finish_reason, served_model)
        yield tool_calls.with_calls(final, calls.calls())

    async def stream_infill(
        self, model: str, infill: Infill, options: GenerationOptions | None = None
    ) -> AsyncIterator[StreamChunk]:
        """/v1/completions with the family's FIM template as a raw prompt (no chat template); without a
        suffix, the prompt as it is.

        Not the ``suffix`` field: llama-cpp-python's server hands it to create_completion, which builds
        the FIM prompt with token id 0 for all three FIM tokens (0.3.x), and LM Studio documents no
        ``suffix``; both parse special tokens in a raw prompt, which is how editors' FIM clients talk
        to them."""
        options = options or GenerationOptions()
        template = fim.template_for(model) if infill.fim else None
        if infill.fim and template is None:
            raise ProviderError(
                f"{self.name} cannot fill in the middle with {model}: its FIM template is not known here."
                " Use a FIM-trained code model (qwen2.5-coder, starcoder, deepseek-coder, codellama).",
                provider=self.name,
                model=model,
            )
        body: dict[str, Any] = {
            "model": model,
            "prompt": template.render(infill) if template else infill.prompt,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        stops = (*(options.stop or ()), *(template.stops if template else ()))
        if stops:
            body["stop"] = list(dict.fromkeys(stops))
        for field in ("temperature", "top_p", "seed", "max_tokens"):
            value = getattr(options, field)
            if value is not None:
                body[field] = value
        clock = StreamClock()
        usage: dict[str, Any] = {}
        finish_reason = None
        served_model = None
        try:
            async with self._client.stream("POST", "/v1/completions", json=body) as resp:
                if resp.status_code >= 400:
                    raise self._status_error(resp, await resp.aread(), model)
                async for line in resp.aiter_lines():
                    data = line[5:].strip() if line.startswith("data:") else ""
                    if not data or data == "[DONE]":
                        continue  # comments, keep-alives; the rest is read so the connection is reused
                    chunk = self._chunk(data, model, clock.text)
                    served_model = served_model or chunk.get("model")
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or ():
                        if choice.get("text"):
                            clock.mark(choice["text"])
                            yield Delta(choice["text"])
                        finish_reason = choice.get("finish_reason") or finish_reason
        except httpx.HTTPError as err:
            raise self._transport_error(err, model, clock.text) from None
        if finish_reason is None:
            raise BadResponse(
                f"{self.name} ended the stream before the middle was complete.",
                partial_text=clock.text,
                provider=self.name,
                model=model,
            )
        yield self._final(clock, model, infill.as_messages(), usage, finish_reason, served_model)

    def _chunk(self, data: str, model: str, partial: str) -> dict[str, Any]:
        """One SSE ``data:`` line as JSON; an error the server sent in it (under HTTP 200) is raised."""
        try:
            chunk = json.loads(data)
        except ValueError:
            chunk = None
        if not isinstance(chunk, dict):
            raise BadResponse(
                f"{self.name} sent a malformed stream line: {data[:80]!r}.",
                partial_text=partial,
                provider=self.name,
                model=model,
            )
        if "error" in chunk:
            raise http_errors.from_status(
                500,
                http_errors.error_message(data),
                provider=self.name,
                model=model,
                address=self.address,
                secrets=self._secrets,
            )
        return chunk

    def _final(
        self,
        clock: StreamClock,
        model: str,
        messages: Sequence[Message],
        usage: dict[str, Any],
        finish_reason: str | None,
        served_model: str | None,
    ) -> Completion:
        warnings: tuple[str, ...] = ()
        if served_model and not _same_model(served_model, model):
            # LM Studio answers with whatever model is loaded (lmstudio-bug-tracker #619).
            warnings = (f"{self.name} answered with '{served_model}', not the requested '{model}'.",)
        return clock.finish(
            provider=self.name,
            model=model,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            finish_reason=finish_reason,
            prompt_estimate=estimate_prompt_tokens(messages),
            warnings=warnings,
        )

    async def embed(self, model: str, texts: Sequence[str]) -> list[list[float]]:
        try:
            resp = await self._client.post("/v1/embeddings", json={"model": model, "input": list(texts)})
        except httpx.HTTPError as err:
            raise self._transport_error(err, model) from None
        if resp.status_code >= 400:
            raise self._status_error(resp, resp.content, model)
        data = resp.json().get("data", [])
        return [item["embedding"] for item in sorted(data, key=lambda d: d.get("index", 0))]

    async def close(self) -> None:
        await self._client.aclose()


def _same_model(served: str, asked: str) -> bool:
    # Servers may echo a path or a publisher-prefixed id for the same model.
    s, a = served.lower(), asked.lower()
    return (
        s == a or s.endswith("/" + a) or a.endswith("/" + s) or s.rsplit("/", 1)[-1] == a.rsplit("/", 1)[-1]
    )
