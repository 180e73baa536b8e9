"""Earlier turns of a thread cut to fit a token budget - visibly, never by dropping a turn unsaid."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from jarvis.providers.tokens import CHARS_PER_TOKEN, estimate_prompt_tokens
from jarvis.providers.types import Message

#: A cut message keeps at least this much of itself: the model still sees what kind of turn it was.
MIN_KEEP_CHARS = 120


@dataclass(frozen=True)
class FittedHistory:
    messages: list[Message]
    #: Characters cut out of the earlier turns (0: they fit whole).
    left_out: int


def marker(count: int) -> str:
    return f"\n… {count:,} earlier characters left out …\n"


def cut(text: str, keep: int) -> tuple[str, int]:
    """Keep the head (the task or the start of an answer) and the longer tail (its latest code and
    conclusion); returns the text with a marker saying how much went, and that count."""
    if len(text) <= keep:
        return text, 0
    keep = max(keep, MIN_KEEP_CHARS)
    if len(text) <= keep:
        return text, 0
    head = keep // 3
    tail = keep - head
    dropped = len(text) - keep
    return f"{text[:head]}{marker(dropped)}{text[len(text) - tail :]}", dropped


def _order(messages: Sequence[Message]) -> list[int]:
    """Which messages give up text first: the oldest middle turns, then the latest answer, then the
    first task (what the thread is about goes last)."""
    n = len(messages)
    last_answer = max((i for i, m in enumerate(messages) if m.role == "assistant"), default=None)
    middle = [i for i in range(1, n) if i != last_answer]
    return middle + [i for i in (last_answer, 0) if i is not None and i < n]


def fit_history(messages: Sequence[Message], budget_tokens: int) -> FittedHistory:
    """The turns within ``budget_tokens`` (estimated as providers.tokens does), cut from the oldest."""
    fitted = list(messages)
    dropped: dict[int, int] = {}
    for i in _order(fitted):
        original = fitted[i].content
        keep = len(original)
        for _ in range(3):  # the marker's own length and rounding: shrink until it really fits
            excess = estimate_prompt_tokens(fitted) - budget_tokens
            if excess <= 0:
                break
            keep -= int(excess * CHARS_PER_TOKEN) + 1 + (0 if i in dropped else len(marker(len(original))))
            new, count = cut(original, keep)
            if not count:
                break
            fitted[i] = replace(fitted[i], content=new)
            dropped[i] = count
            if keep <= MIN_KEEP_CHARS:
                break
    return FittedHistory(fitted, sum(dropped.values()))
