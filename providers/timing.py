"""Measures a stream as it passes: time to first token, tokens per second, total time."""

from __future__ import annotations

import time

from .types import Completion


class StreamClock:
    """Started just before the request is sent; ``mark_token`` on each text piece."""

    __slots__ = ("start", "first", "last", "pieces", "_parts")

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: float | None = None
        self.last: float | None = None
        self.pieces = 0
        self._parts: list[str] = []

    def mark(self, text: str) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        self.last = now
        self.pieces += 1
        self._parts.append(text)

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def finish(
        self,
        *,
        provider: str,
        model: str,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        finish_reason: str | None,
        prompt_estimate: int = 0,
        decode_seconds: float | None = None,
        warnings: tuple[str, ...] = (),
    ) -> Completion:
        """Build the final record; counts the server gave win over our estimates."""
        end = time.perf_counter()
        estimated = prompt_tokens is None or completion_tokens is None
        completion = completion_tokens if completion_tokens is not None else self.pieces
        ttft = None if self.first is None else self.first - self.start
        if decode_seconds is None and self.first is not None and self.last is not None:
            # Tokens after the first, over the time after the first: excludes prompt processing.
            decode_seconds = self.last - self.first
            rate_tokens = max(completion - 1, 0)
        else:
            rate_tokens = completion
        tps = rate_tokens / decode_seconds if decode_seconds and rate_tokens else None
        return Completion(
            provider=provider,
            model=model,
            text=self.text,
            prompt_tokens=prompt_tokens if prompt_tokens is not None else prompt_estimate,
            completion_tokens=completion,
            ttft_s=ttft,
            tokens_per_s=tps,
            total_s=end - self.start,
            finish_reason=finish_reason or "stop",
            usage_estimated=estimated,
            warnings=warnings,
        )
