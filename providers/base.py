"""The provider protocol: a few async methods with typed results and documented errors."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence

from .errors import ProviderError
from .types import GenerationOptions, Infill, Message, ModelInfo, StreamChunk


class Provider(abc.ABC):
    """One backend at one address.

    ``name`` is unique among configured providers and prefixes model ids
    (``ollama/qwen2.5-coder:7b``). Every method raises only :class:`ProviderError`
    subclasses, never a library's own exception.
    """

    #: The backend family: ollama, openai, lmstudio, embedded, cloud.
    kind: str = "provider"
    #: What to tell a user whose provider cannot be reached.
    start_hint: str = ""
    #: Implements stream_infill: raw completions (no chat template), and fill-in-the-middle for models
    #: with the "fim" capability.
    raw_completion: bool = False

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def address(self) -> str:
        """Where this provider talks to, for messages (never contains a secret)."""
        return "in-process"

    @abc.abstractmethod
    async def list_models(self) -> list[ModelInfo]:
        """Models the backend offers now. Raises ProviderUnavailable when unreachable."""

    async def model_info(self, model: str) -> ModelInfo:
        """Details of one model. Raises ModelNotFound when the backend lacks it."""
        for info in await self.list_models():
            if info.name == model:
                return info
        raise self.not_found(model)

    @abc.abstractmethod
    def stream_chat(
        self, model: str, messages: Sequence[Message], options: GenerationOptions | None = None
    ) -> AsyncIterator[StreamChunk]:
        """Yield ``Delta`` pieces, then exactly one ``Completion``.

        Closing the iterator (``aclose()`` or cancelling the consuming task) stops
        generation on the backend. Raises ProviderError subclasses; a stream that
        breaks after some text raises BadResponse carrying ``partial_text``.
        """

    async def stream_infill(
        self, model: str, infill: Infill, options: GenerationOptions | None = None
    ) -> AsyncIterator[StreamChunk]:
        """A raw completion, no chat template: the model's own FIM tokens around ``infill`` when it has a
        suffix (only for models with the "fim" capability), else the prompt as it is. Yields ``Delta``
        pieces, then one ``Completion``; the same errors and closing rules as ``stream_chat``. Only where
        ``raw_completion`` is True."""
        raise ProviderError(
            f"{self.name} takes no raw completions or fill-in-the-middle requests; use chat.",
            provider=self.name,
            model=model,
        )
        yield  # unreachable: makes this an async generator, as the real ones are

    async def embed(self, model: str, texts: Sequence[str]) -> list[list[float]]:
        """Embedding vectors, one per text. Not every backend has embeddings."""
        raise ProviderError(f"{self.name} does not offer embeddings.", provider=self.name, model=model)

    async def health(self) -> str | None:
        """None when healthy, else a sentence saying why not. Never raises."""
        try:
            await self.list_models()
        except ProviderError as err:
            return str(err)
        return None

    async def count_tokens(self, model: str, text: str) -> int | None:
        """Exact token count when the backend's tokenizer is at hand, else None."""
        return None

    async def close(self) -> None:  # noqa: B027 - optional: most providers hold nothing to release
        """Release connections and loaded models."""

    def not_found(self, model: str) -> ProviderError:
        from .errors import ModelNotFound

        return ModelNotFound(
            f"{self.name} has no model named '{model}'.",
            hint="Run `jarvis models` to see what is installed.",
            provider=self.name,
            model=model,
        )
