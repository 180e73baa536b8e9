"""Token counts of attached text: the model's own tokenizer when its backend has one at hand, else an
estimate that errs high (providers.tokens: 3 characters a token), so what we say fits really fits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from jarvis.providers.registry import ModelRegistry
from jarvis.providers.tokens import estimate_text_tokens

from .attachment import LEFT_OUT, Attachment


def estimate_tokens(text: str) -> int:
    return estimate_text_tokens(text)


async def exact_counts(
    registry: ModelRegistry, model_id: str, attachments: Sequence[Attachment]
) -> tuple[list[Attachment], bool]:
    """Recount with the model's tokenizer (the embedded backend has one); (attachments, exact?).
    Unchanged, and False, when the backend cannot count or counting fails."""
    try:
        provider, name = registry.provider_for(model_id)
        counts: list[int] = []
        for a in attachments:
            if a.status == LEFT_OUT:
                counts.append(a.tokens)
                continue
            n = await provider.count_tokens(name, a.text)
            if n is None:
                return list(attachments), False
            counts.append(n)
    except Exception:  # a count is an improvement, never a reason for the run to fail
        return list(attachments), False
    return [replace(a, tokens=n) for a, n in zip(attachments, counts, strict=True)], True
