"""Embeddings for both APIs: a model with the embeddings capability (or the first one, for jarvis/auto),
recorded in the ledger as a request like any other."""

from __future__ import annotations

from dataclasses import dataclass

from jarvis.chains.bus import RequestRecord
from jarvis.providers.errors import ProviderError
from jarvis.providers.tokens import estimate_text_tokens
from jarvis.providers.types import Usage

from ..engine import Engine
from .gateway import error_status
from .models import AUTO, find_entry


class EmbedFailed(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Embeddings:
    model: str
    vectors: list[list[float]]
    prompt_tokens: int
    seconds: float


async def embed(engine: Engine, name: str, texts: list[str]) -> Embeddings:
    """Raises EmbedFailed with a sentence and the HTTP status it gets."""
    registry = engine.registry
    if name in (AUTO, "jarvis"):
        entry = next((e for e in registry.models if "embeddings" in e.capabilities), None)
        if entry is None:
            raise EmbedFailed("No embedding model is installed here; pull one (e.g. nomic-embed-text).", 404)
    else:
        entry = find_entry(name, registry)
        if entry is None:
            raise EmbedFailed(f"The model '{name}' is not known here; GET /v1/models lists the models.", 404)
    provider, model = registry.provider_for(entry.id)
    clock = engine.orchestrator.clock
    started_at, started = clock.time(), clock.perf_counter()
    tokens = sum(estimate_text_tokens(t) for t in texts)
    try:
        vectors = await provider.embed(model, texts)
    except ProviderError as err:
        status, _ = error_status(err)
        engine.ledger.record_request(
            RequestRecord(
                entry.id,
                "failed",
                provider=entry.provider,
                role="embed",
                latency_s=clock.perf_counter() - started,
                started_at=started_at,
                error_kind=err.kind,
                error=str(err),
            )
        )
        raise EmbedFailed(
            str(err), 400 if status == 503 and "offer embeddings" in str(err) else status
        ) from None
    took = clock.perf_counter() - started
    engine.ledger.record_request(
        RequestRecord(
            entry.id,
            "ok",
            provider=entry.provider,
            role="embed",
            usage=Usage(prompt_tokens=tokens, completion_tokens=0, total_s=took, usage_estimated=True),
            latency_s=took,
            started_at=started_at,
        )
    )
    return Embeddings(entry.id, vectors, tokens, took)
