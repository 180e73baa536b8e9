"""Cloud models through litellm, for fallbacks the user enables; litellm is imported only on first use."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import replace
from types import ModuleType
from typing import Any

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
from .timing import StreamClock
from .tokens import estimate_prompt_tokens
from .types import Delta, GenerationOptions, Message, ModelInfo, StreamChunk

#: The environment variable litellm reads for each provider prefix.
KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "google": "GEMINI_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
}


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

    Keys come from the user's config or the environment at construction; they are
    passed per call (never set on the litellm module) and redacted from every error.
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
    ) -> None:
        super().__init__(name)
        self.models = tuple(models)
        self._keys = dict(api_keys or {})
        self.api_base = api_base
        self.timeout = timeout
        self._context = dict(context_lengths or {})
        self._litellm: ModuleType | None = None

    @property
    def address(self) -> str:
        return self.api_base or "cloud APIs"

    @property
    def _secrets(self) -> tuple[str, ...]:
        return tuple(v for v in self._keys.values() if v)

    def _key_for(self, model: str) -> str | None:
        prefix = model.split("/", 1)[0]
        return self._keys.get(prefix) or os.environ.get(KEY_ENV.get(prefix, ""), None) or None

    def has_key(self, model: str) -> bool:
        return self._key_for(model) is not None

    async def list_models(self) -> list[ModelInfo]:
        # No network call: the user lists the cloud models they allow as fallbacks.
        return [
            ModelInfo(
                provider=self.name,
                name=m,
                context_length=self._context.get(m),
                capabilities=frozenset({"completion", "chat", "code"}),
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
            headers = getattr(getattr(err, "response", None), "headers", None) or {}
            wait = retry_after_seconds(headers.get("retry-after")) if hasattr(headers, "get") else None
            return RateLimited(f"{model} is rate limited: {msg}", retry_after=wait, **kw)
        if isinstance(err, lib.Timeout):
            return ProviderTimeout(f"Timed out waiting for {model}.", **kw)
        if isinstance(err, lib.AuthenticationError):
            return AuthenticationFailed(f"{model} rejected the API key.", hint=_key_hint(model), **kw)
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
        key = self._key_for(model)
        if key is None and self.api_base is None:
            raise AuthenticationFailed(
                f"No API key for {model}.", hint=_key_hint(model), provider=self.name, model=model
            )
        litellm = self._lib()
        kwargs: dict[str, Any] = {
            "model": model,
            "messages": [m.as_dict() for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "timeout": self.timeout,
            "num_retries": 0,  # our fallback manager decides about retries
            "api_key": key or "not-needed",
        }
        if self.api_base:
            kwargs["api_base"] = self.api_base
        for field in ("temperature", "top_p", "seed", "max_tokens"):
            value = getattr(options, field)
            if value is not None:
                kwargs[field] = value
        if options.stop:
            kwargs["stop"] = list(options.stop)
        clock = StreamClock()
        usage = None
        finish_reason = None
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
        yield replace(final, cost_usd=self.cost(model, final.prompt_tokens, final.completion_tokens))

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """Price from litellm's local cost map; unknown models cost 0 (and say nothing)."""
        try:
            p, c = self._lib().cost_per_token(
                model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
            )
            return float(p + c)
        except Exception:
            return 0.0


def _key_hint(model: str) -> str:
    env = KEY_ENV.get(model.split("/", 1)[0], "the provider's API key variable")
    return f"Set {env} in your environment or under [cloud.api_keys] in your config."
