"""Small helpers shared by tests."""

from __future__ import annotations

from jarvis.providers.types import Completion, Delta, GenerationOptions, Message


async def collect(stream) -> tuple[list[str], Completion]:
    """Drain a provider stream: the text pieces, and the final record (exactly one, last)."""
    pieces: list[str] = []
    final = None
    async for chunk in stream:
        assert final is None, "nothing may follow the final record"
        if isinstance(chunk, Delta):
            pieces.append(chunk.text)
        else:
            final = chunk
    assert isinstance(final, Completion), "every stream ends with a Completion"
    return pieces, final


def ask(text: str) -> list[Message]:
    return [Message("user", text)]


GREEDY = GenerationOptions(temperature=0, max_tokens=24, seed=1)
