"""Embeddings for every API (OpenAI, Ollama, the REST API): a model with the embeddings capability (or the
first one, for jarvis/auto), through the backend's router slot like generation (so an editor's indexing
queues behind, not beside, the requests Ollama serialises), recorded in the ledger and published on the
bus (so /metrics counts it) as a request like any other."""

from __future__ import annotations

from dataclasses import dataclass

from jarvis.chains.bus import RequestCompleted, RequestFailed, RequestRecord
from jarvis.chains.router import BACKGROUND, QueueFull
from jarvis.providers.errors import ProviderError
from jarvis.providers.registry import ModelEntry
from jarvis.providers.tokens import estimate_text_tokens
from jarvis.providers.types import Usage

from ..engine import Engine
from .gateway import error_status
from .models import AUTO, find_entry


class EmbedFailed(Exception):
    def __init__(self, message: str, status: int, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}


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
    try:
        lease = await engine.router.acquire(entry, priority=BACKGROUND)
    except QueueFull as err:
        raise EmbedFailed(str(err), 429, err.retry_after) from None
    try:
        return await _embed_on(engine, lease.endpoint, texts)
    finally:
        lease.release()


async def _embed_on(engine: Engine, entry: ModelEntry, texts: list[str]) -> Embeddings:
    provider, model = engine.registry.provider_for(entry.id)
    clock = engine.orchestrator.clock
    started_at, started = clock.time(), clock.perf_counter()
    tokens = sum(estimate_text_tokens(t) for t in texts)
    try:
        vectors = await provider.embed(model, texts)
    except ProviderError as err:
        status, _ = error_status(err)
        failed = RequestRecord(
            entry.id,
            "failed",
            provider=entry.provider,
            role="embed",
            latency_s=clock.perf_counter() - started,
            started_at=started_at,
            error_kind=err.kind,
            error=str(err),
        )
        engine.ledger.record_request(failed)
        engine.bus.publish(RequestFailed(None, failed))
        raise EmbedFailed(
            str(err), 400 if status == 503 and "offer embeddings" in str(err) else status
        ) from None
    took = clock.perf_counter() - started
    done = RequestRecord(
        entry.id,
        "ok",
        provider=entry.provider,
        role="embed",
        usage=Usage(prompt_tokens=tokens, completion_tokens=0, total_s=took, usage_estimated=True),
        latency_s=took,
        started_at=started_at,
    )
    engine.ledger.record_request(done)
    engine.bus.publish(RequestCompleted(None, done))
    return Embeddings(entry.id, vectors, tokens, took)
