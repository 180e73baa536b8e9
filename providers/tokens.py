"""Prompt-size estimates for backends whose tokenizer we cannot run here."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .types import Message

#: Code and English average 3.5-4 characters per token on Llama/Qwen tokenizers;
#: dividing by 3 over-estimates on purpose, so a prompt we call "fits" really fits.
CHARS_PER_TOKEN = 3.0
#: Role markers and separators a chat template adds around each message.
TOKENS_PER_MESSAGE = 4


def estimate_text_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def estimate_prompt_tokens(messages: Sequence[Message]) -> int:
    """Conservative token estimate of a chat prompt (template overhead included)."""
    return sum(estimate_text_tokens(m.content) + TOKENS_PER_MESSAGE for m in messages) + 2
