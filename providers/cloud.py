"""Cloud models through litellm, for fallbacks the user enables; litellm is imported only on first use."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from types import ModuleType
from typing import Any

from . import tool_calls
from .base import Provider
from .errors import (
    AuthenticationFailed,
    BadResponse,
    ContentFiltered,
    ContextOverflow,
    ModelNotFound,
    Origin,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    redact,
)
from .http_errors import is_refused, retry_after_seconds
from .keys.rotation import AUTH_COOLDOWN_S, RATE_COOLDOWN_S, KeyRotation
from .keys.sources import KeySources
from .keys.types import KEY_ENV, KeyUse, NamedKey
from .timing import StreamClock
from .tokens import estimate_prompt_tokens
from .types import Completion, Delta, GenerationOptions, Message, ModelInfo, StreamChunk

__all__ = ["KEY_ENV", "CloudProvider", "load_litellm"]


def load_litellm() -> ModuleType:
    """Import litellm (~2 s) with its cost map read from the package, never the network."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    # The one litellm global we touch, on purpose: without it litellm print()s a
    # "Give Feedback / Get Help" banner to our stdout on every failed call, which
    # corrupts `--json` output. There is no per-call or environment switch (its own
    # Router sets the same flag). It changes printing only, never request behaviour.
    litellm.suppress_debug_info = True
    return litellm


class CloudProvider(Provider):
    """``models`` are litellm model strings ("openai/gpt-4o-mini"); ``api_keys`` maps a prefix to its key.

    ``keys`` gives each prefix its keys in order (environment, key store, config; by default
    the environment and ``api_keys``). A key that is rejected or rate limited before any text
    sits out a cooldown and the same request goes out again with the next key, so the engine's
    fallback sees a failure only when every key failed; the switch is a warning on the answer.
    Keys are passed per call (never set on the litellm module) and redacted from every error;
    ``on_key_use`` hears of each use by the key's name (for the ledger), never the key.
    """

    kind = "cloud"

    def __init__(
        self,
        name: str = "cloud",
        models: Sequence[str] = (),
        *,
        api_keys: Mapping[str, str] | None = None,
        api_base: str | None = None,
        timeout: float = 60.0,
        context_lengths: Mapping[str, int] | None = None,
        keys: KeyRotation | None = None,
        on_key_use: Callable[[KeyUse], None] | None = None,
    ) -> None:
        super().__init__(name)
        self.models = tuple(models)
        self._keys = dict(api_keys or {})
        self.keys = keys or KeyRotation(KeySources(os.environ, self._keys))
        self._on_key_use = on_key_use
        # Concurrent first requests (a comparison, `jarvis serve`) read the keyring once, not once each.
        self._loading = asyncio.Lock()
        self.api_base = api_base
        self.timeout = timeout
        self._context = dict(context_lengths or {})
        self._litellm: ModuleType | None = None

    @property
    def address(self) -> str:
        return self.api_base or "cloud APIs"

    @property
    def _secrets(self) -> tuple[str, ...]:
        return tuple(v for v in self._keys.values() if v) + self.keys.secrets()

    def has_key(self, model: str) -> bool:
        """Whether any source has a key for the model's prefix (reads names only, never a keyring)."""
        return self.keys.available(model.split("/", 1)[0])

    def broken_models(self) -> list[tuple[str, str]]:
        """The registry's notices: keys kept in plain text in the config file."""
        warning = self.keys.sources.config_warning()
        return [("api_keys", warning)] if warning else []

    async def list_models(self) -> list[ModelInfo]:
        # No network call: the user lists the cloud models they allow as fallbacks.
        tools = tool_calls.litellm_function_calling(self.models)
        return [
            ModelInfo(
                provider=self.name,
                name=m,
                context_length=self._context.get(m),
                capabilities=frozenset(
                    {"completion", "chat", "code"} | ({"function_calling"} if m in tools else set())
                ),
                local=False,
                details={"has_key": self.has_key(m)},
            )
            for m in self.models
        ]

    async def health(self) -> str | None:
        return None

    def _lib(self) -> ModuleType:
        if self._litellm is None:
            self._litellm = load_litellm()
        return self._litellm

    def _map(self, err: Exception, model: str, partial: str) -> ProviderError:
        """By litellm's exception types (its messages vary by backend); a refused connection is a field."""
        lib = self._lib()
        msg = redact(str(err), self._secrets)[:400]
        kw: Origin = {"provider": self.name, "model": model}
        if not partial and is_refused(err):
            # litellm reports a refused connection as an InternalServerError; its cause says which.
            return ProviderUnavailable(f"Could not reach {model}: {msg}", refused=True, **kw)
        if isinstance(err, lib.ContextWindowExceededError):
            return ContextOverflow(f"The prompt does not fit {model}'s context window.", **kw)
        if isinstance(err, lib.RateLimitError):
            # litellm keeps the server's headers here; its `response` is a stand-in without them.
            headers = (
                getattr(err, "litellm_response_headers", None)
                or getattr(getattr(err, "response", None), "headers", None)
                or {}
            )
            wait = retry_after_seconds(headers.get("retry-after")) if hasattr(headers, "get") else None
            return RateLimited(f"{model} is rate limited: {msg}", retry_after=wait, **kw)
        if isinstance(err, lib.Timeout):
            return ProviderTimeout(f"Timed out waiting for {model}.", **kw)
        if isinstance(err, lib.AuthenticationError):
            return AuthenticationFailed(f"{model} rejected the API key.", hint=_key_hint(model), **kw)
        if isinstance(err, lib.PermissionDeniedError) or getattr(err, "status_code", None) == 403:
            # 403: this key may not use this model (or is suspended); another key may, so rotate too.
            # (litellm reports OpenAI's 403 as a BadRequestError; its status code says which.)
            return AuthenticationFailed(f"{model} refused the API key (403).", hint=_key_hint(model), **kw)
        if isinstance(err, lib.NotFoundError):
            return ModelNotFound(f"The cloud provider has no model '{model}'.", **kw)
        if isinstance(err, lib.ContentPolicyViolationError):
            return ContentFiltered(f"{model} refused the content: {msg}", **kw)
        if partial:
            return BadResponse(f"The stream from {model} broke: {msg}", partial_text=partial, **kw)
        if isinstance(
            err,
            (
                lib.APIConnectionError,
                lib.ServiceUnavailableError,
                lib.InternalServerError,
                lib.BadGatewayError,
            ),
        ):
            return ProviderUnavailable(f"Could not reach {model}: {msg}", **kw)
        return BadResponse(f"{model} failed: {type(err).__name__}: {msg}", **kw)

    async def _keys_for(self, model: str) -> list[NamedKey | None]:
        """The keys to try now, in order; [None] for a keyless proxy. Raises when none may be tried."""
        prefix = model.split("/", 1)[0]
        if not self.keys.loaded(prefix):
            async with self._loading:
                if not self.keys.loaded(prefix):
                    await asyncio.to_thread(self.keys.load, prefix)  # a keyring or the key file: blocking
        usable: list[NamedKey | None] = list(self.keys.usable(prefix))
        if usable:
            return usable
        origin: Origin = {"provider": self.name, "model": model}
        wait = self.keys.next_ready_in(prefix)
        if wait is not None:  # keys exist, all sitting out a cooldown
            names = ", ".join(f"'{k.name}'" for k in self.keys.load(prefix))
            if any(self.keys.state(prefix, k.name).startswith("rate") for k in self.keys.load(prefix)):
                raise RateLimited(
                    f"Every key for {prefix} ({names}) is rate limited; one is free in {wait:.0f} s.",
                    retry_after=wait,
                    **origin,
                )
            raise AuthenticationFailed(
                f"Every key for {prefix} ({names}) was rejected.", hint=_key_hint(model, prefix), **origin
            )
        if self.api_base is not None:
            return [None]
        problem = self.keys.problem(prefix)
        raise AuthenticationFailed(f"No API key for {model}.", hint=problem or _key_hint(model), **origin)

    async def stream_chat(
        self, model: str, messages: Sequence[Message], options: GenerationOptions | None = None
    ) -> AsyncIterator[StreamChunk]:
        options = options or GenerationOptions()
        if model not in self.models:
            raise ModelNotFound(
                f"'{model}' is not among the cloud models you enabled.",
                hint="Add it under [cloud] models in your config.",
                provider=self.name,
                model=model,
            )
        keys = await self._keys_for(model)
        switched: list[str] = []
        for i, key in enumerate(keys):
            streamed = False
            try:
                async for chunk in self._stream_once(model, messages, options, key):
                    if isinstance(chunk, Completion):
                        self._used(key, model, "ok", chunk)
                        chunk = replace(chunk, warnings=chunk.warnings + tuple(switched))
                    else:
                        streamed = True
                    yield chunk
                return
            except (AuthenticationFailed, RateLimited) as err:
                if key is None:
                    raise
                rejected = isinstance(err, AuthenticationFailed)
                self._used(key, model, "rejected" if rejected else "rate_limited")
                retry_after = err.retry_after if isinstance(err, RateLimited) else None
                cooldown = AUTH_COOLDOWN_S if rejected else retry_after or RATE_COOLDOWN_S
                self.keys.mark(key, "rejected" if rejected else "rate limited", cooldown)
                nxt = keys[i + 1] if i + 1 < len(keys) else None
                if streamed or nxt is None:
                    if i == 0:
                        raise
                    tried = ", ".join(f"'{k.name}'" for k in keys if k is not None)
                    if rejected:
                        raise AuthenticationFailed(
                            f"{model} rejected every key tried ({tried}).",
                            hint=_key_hint(model, key.provider),
                            provider=self.name,
                            model=model,
                        ) from None
                    raise RateLimited(
                        f"{model} is rate limited on every key tried ({tried}).",
                        retry_after=retry_after,
                        provider=self.name,
                        model=model,
                    ) from None
                why = "was rejected" if rejected else "is rate limited"
                switched.append(
                    f"The {key.provider} key '{key.name}' {why}; answered with key '{nxt.name}'"
                    f" ('{key.name}' sits out {cooldown:.0f} s)."
                )
            except ProviderError:
                if key is not None:
                    self._used(key, model, "failed")
                raise

    def _used(self, key: NamedKey | None, model: str, outcome: str, final: Completion | None = None) -> None:
        if key is None:
            return
        if outcome == "ok":
            self.keys.clear(key)
        if self._on_key_use is None:
            return
        self._on_key_use(
            KeyUse(
                key.provider,
                key.name,
                key.source,
                model,
                outcome,
                final.prompt_tokens if final else None,
                final.completion_tokens if final else None,
                final.cost_usd if final else 0.0,
            )
        )

    async def _stream_once(
        self, model: str, messages: Sequence[Message], options: GenerationOptions, key: NamedKey | None
    ) -> AsyncIterator[StreamChunk]:
        litellm = self._lib()
        kwargs: dict[str, Any] = {
            "model": model,
            "messages": [m.as_dict() for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "timeout": self.timeout,
            "num_retries": 0,  # our fallback manager decides about retries
            "api_key": key.secret if key else "not-needed",
        }
        if self.api_base:
            kwargs["api_base"] = self.api_base
        for field in ("temperature", "top_p", "seed", "max_tokens"):
            value = getattr(options, field)
            if value is not None:
                kwargs[field] = value
        if options.stop:
            kwargs["stop"] = list(options.stop)
        kwargs.update(tool_calls.openai_tools(options))
        if "tools" in kwargs:
            # litellm 1.106 imports its MCP gateway for any request with tools, and that needs the optional
            # `mcp` package (not installed: "No module named 'mcp'"); its own flag skips the gateway check.
            kwargs["_skip_mcp_handler"] = True
        clock = StreamClock()
        usage = None
        finish_reason = None
        calls = tool_calls.ToolCallAccumulator()
        try:
            response = await litellm.acompletion(**kwargs)
            async for chunk in response:
                if getattr(chunk, "usage", None):
                    usage = chunk.usage
                for choice in chunk.choices or ():
                    text = getattr(choice.delta, "content", None)
                    if text:
                        clock.mark(text)
                        yield Delta(text)
                    calls.add_delta(getattr(choice.delta, "tool_calls", None))
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
        except ProviderError:
            raise
        except Exception as err:
            raise self._map(err, model, clock.text) from None
        prompt_tokens = getattr(usage, "prompt_tokens", None)
        completion_tokens = getattr(usage, "completion_tokens", None)
        final = clock.finish(
            provider=self.name,
            model=model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            finish_reason=finish_reason,
            prompt_estimate=estimate_prompt_tokens(messages),
        )
        final = replace(final, cost_usd=self.cost(model, final.prompt_tokens, final.completion_tokens))
        yield tool_calls.with_calls(final, calls.calls())

    async def probe_key(self, model: str, key: NamedKey) -> tuple[str, str]:
        """One cheap authenticated call with ``key`` (a one-token completion) for `jarvis keys test`.

        Returns (status, sentence): status is ok, rejected, rate_limited (the key is valid but
        throttled), unreachable or failed. Never raises; the key never appears in the sentence.
        """
        kwargs: dict[str, Any] = {
            "model": model,
            "messages": [{"role": "user", "content": "ping"}],
            "max_tokens": 1,
            "timeout": min(self.timeout, 30.0),
            "num_retries": 0,
            "api_key": key.secret,
        }
        if self.api_base:
            kwargs["api_base"] = self.api_base
        try:
            await self._lib().acompletion(**kwargs)
        except Exception as err:
            mapped = self._map(err, model, "")
            sentence = redact(str(mapped), (key.secret,))
            if isinstance(mapped, AuthenticationFailed):
                return "rejected", f"{model} rejected the key."
            if isinstance(mapped, RateLimited):
                return "rate_limited", f"{model} accepted the key but is rate limiting it now."
            if isinstance(mapped, ModelNotFound):
                return "ok", f"The key was accepted ({sentence})"
            if isinstance(mapped, (ProviderUnavailable, ProviderTimeout)):
                return "unreachable", sentence
            return "failed", sentence
        return "ok", f"{model} accepted the key."

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """Price from litellm's local cost map; unknown models cost 0 (and say nothing)."""
        try:
            p, c = self._lib().cost_per_token(
                model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
            )
            return float(p + c)
        except Exception:
            return 0.0


def _key_hint(model: str, prefix: str | None = None) -> str:
    prefix = prefix or model.split("/", 1)[0]
    env = KEY_ENV.get(prefix, "the provider's API key variable")
    return f"Add a key with `jarvis keys add {prefix}`, or set {env} in your environment."
