"""GET /metrics: Prometheus text for every model request the engine makes, from the engine's event bus, so
runs from the TUI and the CLI in this process count as much as served ones.

Names follow the OpenTelemetry GenAI semantic conventions where one exists (gen_ai.client.operation.duration
becomes gen_ai_client_operation_duration_seconds; attributes become labels, dots as underscores); what
they do not cover (the router's queues, the circuit breaker, fallbacks) is named jarvis_*. Each app has its
own CollectorRegistry: the library's global default registry is never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from jarvis.chains.bus import FallbackOccurred, RequestCompleted, RequestFailed, RequestRecord

from ..engine import Engine

#: The conventions' advised bucket boundaries: seconds for durations, powers of four for tokens.
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS = tuple(4.0**i for i in range(14))
#: Every model call the engine makes is a chat (chains, comparisons and served requests alike).
OPERATION = "chat"
MODEL_LABELS = (
    "gen_ai_operation_name",
    "gen_ai_provider_name",
    "gen_ai_request_model",
    "gen_ai_response_model",
)


class EngineMetrics:
    """The metrics of one engine: counted from its bus, read from its router and breaker when scraped."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.duration = Histogram(
            "gen_ai_client_operation_duration_seconds",
            "GenAI operation duration (one request to one model, queueing excluded).",
            [*MODEL_LABELS, "error_type"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "gen_ai_client_operation_time_to_first_chunk_seconds",
            "Time from sending a streamed request to its first chunk.",
            MODEL_LABELS,
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.tokens = Histogram(
            "gen_ai_client_token_usage",
            "Input and output tokens per request.",
            [*MODEL_LABELS, "gen_ai_token_type"],
            buckets=TOKEN_BUCKETS,
            registry=r,
        )
        self.requests = Counter(
            "jarvis_requests",
            "Requests to models by outcome (ok, failed).",
            [*MODEL_LABELS, "status", "error_type"],
            registry=r,
        )
        self.fallbacks = Counter(
            "jarvis_fallbacks",
            "Steps that moved from a failed model to another.",
            ["gen_ai_request_model", "error_type"],
            registry=r,
        )
        r.register(_LiveState(engine))
        self._unsubscribe: list[Callable[[], None]] = [
            engine.bus.subscribe(RequestCompleted, lambda e: self.observe(e.request)),
            engine.bus.subscribe(RequestFailed, lambda e: self.observe(e.request)),
            engine.bus.subscribe(FallbackOccurred, self.fallback),
        ]

    def observe(self, rec: RequestRecord) -> None:
        labels = (OPERATION, rec.provider or "", rec.model_id, rec.model_id)
        error = rec.error_kind or ""
        self.requests.labels(*labels, rec.status, error).inc()
        if rec.usage.cached:
            return  # an answer from the cache took no model time and no tokens
        if rec.latency_s is not None:
            self.duration.labels(*labels, error).observe(rec.latency_s)
        if rec.status != "ok":
            return
        if rec.usage.ttft_s is not None:
            self.ttft.labels(*labels).observe(rec.usage.ttft_s)
        for kind, n in (("input", rec.usage.prompt_tokens), ("output", rec.usage.completion_tokens)):
            if n is not None:
                self.tokens.labels(*labels, kind).observe(n)

    def fallback(self, event: FallbackOccurred) -> None:
        self.fallbacks.labels(event.from_model, event.error_kind).inc()

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _LiveState(Collector):
    """Values read at scrape time: the router's in-flight and queued requests, and open breakers."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        load = self.engine.router.load()
        providers = sorted(set(self.engine.registry.providers) | set(load.backends))
        in_flight = GaugeMetricFamily(
            "jarvis_router_requests_in_flight",
            "Requests holding a slot on each backend now.",
            labels=["gen_ai_provider_name"],
        )
        queued = GaugeMetricFamily(
            "jarvis_router_queue_depth",
            "Requests waiting for a slot on each backend now.",
            labels=["gen_ai_provider_name"],
        )
        breaker = GaugeMetricFamily(
            "jarvis_circuit_breaker_open",
            "1 while a backend's circuit breaker is open (its requests are skipped), else 0.",
            labels=["gen_ai_provider_name"],
        )
        for name in providers:
            backend = load.backends.get(name)
            in_flight.add_metric([name], backend.in_flight if backend else 0)
            queued.add_metric([name], backend.queued if backend else 0)
            breaker.add_metric([name], 1 if self.engine.breaker.is_open(provider_key_of(name)) else 0)
        models = GaugeMetricFamily(
            "jarvis_circuit_breaker_open_models",
            "Models whose own circuit breaker is open now.",
        )
        models.add_metric(
            [], sum(1 for k in self.engine.breaker.open_keys() if not k.startswith("provider:"))
        )
        yield from (in_flight, queued, breaker, models)


def provider_key_of(name: str) -> str:
    """The breaker's key for a provider by name (chains.step_runner.provider_key, from a name)."""
    return f"provider:{name}"


def metrics_route(engine: Engine, metrics: EngineMetrics | None = None) -> Route:
    """GET /metrics for ``engine``; counting starts when this is called (the app is built)."""
    metrics = metrics or EngineMetrics(engine)

    async def scrape(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", scrape, methods=["GET"])


def metrics_routes(engine: Engine) -> list[BaseRoute]:
    """What app/serve/server.py mounts."""
    return [metrics_route(engine)]
