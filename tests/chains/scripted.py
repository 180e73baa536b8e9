"""An in-process provider that answers code-chain roles from a script and records every prompt it gets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from jarvis.providers.base import Provider
from jarvis.providers.types import Completion, Delta, GenerationOptions, Message, ModelInfo, StreamChunk

PLAN = "1. Reverse with a slice.\n2. Return it."
CODE = "```python\ndef reverse(s: str) -> str:\n    return s[::-1]\n```\nSlices reverse."
FIXED = (
    '```python\ndef reverse(s: str) -> str:\n    """Reversed."""\n    return s[::-1]\n```\nNow documented.'
)
REVISE = "VERDICT: REVISE\n- Add a docstring."
APPROVE = "VERDICT: APPROVE"


def completion(provider: str, model: str, text: str) -> Completion:
    """The end of a scripted answer: the same small, fast numbers every time."""
    return Completion(
        provider=provider,
        model=model,
        text=text,
        prompt_tokens=30,
        completion_tokens=12,
        ttft_s=0.01,
        tokens_per_s=100.0,
        total_s=0.1,
        finish_reason="stop",
    )


class ScriptedProvider(Provider):
    """Code-capable models (``models``) whose answers come from ``answer``, streamed in two pieces.

    Subclasses script ``answer``; this holds what every scripted coder shares."""

    kind = "scripted"
    models: Sequence[str] = ("coder",)

    async def list_models(self) -> list[ModelInfo]:
        return [
            ModelInfo(
                provider=self.name,
                name=n,
                context_length=32768,
                size_bytes=10**9,
                capabilities=frozenset({"chat", "code", "completion"}),
            )
            for n in self.models
        ]

    def answer(self, model: str, messages: Sequence[Message], options: GenerationOptions | None) -> str:
        raise NotImplementedError

    async def stream_chat(
        self, model: str, messages: Sequence[Message], options: GenerationOptions | None = None
    ) -> AsyncIterator[StreamChunk]:
        text = self.answer(model, messages, options)
        for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
            yield Delta(piece)
            await asyncio.sleep(0)
        yield completion(self.name, model, text)


class ScriptedCoder(ScriptedProvider):
    """The planner, coder and reviewer of a code chain: the reviewer asks for one revision, then approves."""

    models = ("coder-7b",)

    def __init__(self, name: str = "script") -> None:
        super().__init__(name)
        self.prompts: list[tuple[str, str]] = []  # (system, user) per request

    def answer(self, model: str, messages: Sequence[Message], options: GenerationOptions | None) -> str:
        system = messages[0].content if messages[0].role == "system" else ""
        self.prompts.append((system, messages[-1].content))
        if "You plan code" in system:
            return PLAN
        if "You review code" in system:
            reviews = sum("You review code" in s for s, _ in self.prompts)
            return REVISE if reviews == 1 else APPROVE
        coded = sum("senior software engineer" in s for s, _ in self.prompts)
        return CODE if coded == 1 else FIXED


class Slow(Provider):
    """Two small models that stream a long answer, a token every few milliseconds: time to cancel mid-way."""

    kind = "scripted"

    def __init__(self, name: str = "slow") -> None:
        super().__init__(name)
        self.open_streams = 0

    async def list_models(self) -> list[ModelInfo]:
        return [
            ModelInfo(
                provider=self.name,
                name=n,
                context_length=4096,
                size_bytes=10**8,
                capabilities=frozenset({"chat", "completion"}),
            )
            for n in ("a-1b", "b-1b")
        ]

    async def stream_chat(
        self, model: str, messages: Sequence[Message], options: GenerationOptions | None = None
    ) -> AsyncIterator[StreamChunk]:
        self.open_streams += 1
        try:
            for i in range(500):
                await asyncio.sleep(0.005)
                yield Delta(f"{i} ")
            yield Completion(
                provider=self.name,
                model=model,
                text="",
                prompt_tokens=5,
                completion_tokens=500,
                ttft_s=0.005,
                tokens_per_s=200.0,
                total_s=2.5,
                finish_reason="length",
            )
        finally:
            self.open_streams -= 1
