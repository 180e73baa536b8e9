"""GET /metrics counts what the engine did, from its bus (a comparison counts as much as a served request):
requests, duration, time to first chunk, tokens, fallbacks, the router's in-flight and queued requests and
open breakers, under the OpenTelemetry GenAI names, in the app's own registry."""

from __future__ import annotations

import asyncio

import httpx
import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from jarvis.app.config import Config, EmbeddedConfig, LMStudioConfig, OllamaConfig, OllamaHost
from jarvis.app.engine import build_engine
from jarvis.app.paths import resolve_paths
from jarvis.app.serve.metrics import metrics_routes
from jarvis.chains.step_runner import StepContext, StepOutcome
from jarvis.providers.types import GenerationOptions, Message

pytestmark = pytest.mark.slow

SMOL = "smollm2:135m"


def config(hosts: dict[str, str]) -> Config:
    return Config(
        ollama=OllamaConfig(hosts=[OllamaHost(name=n, url=u) for n, u in hosts.items()]),
        lmstudio=LMStudioConfig(enabled=False),
        embedded=EmbeddedConfig(enabled=False),
    )


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(found: dict, name: str, **labels: str) -> float:
    """The sum over every series of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in found.items() if n == name and want <= ls)


async def scrape(client: httpx.AsyncClient) -> dict:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_metrics_count_real_requests_fallbacks_queues_and_breakers(ollama_url, proxy_for):
    proxy = await proxy_for(ollama_url)
    engine = await build_engine(config({"ollama": ollama_url, "flaky": proxy.url}), resolve_paths()).start()
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=Starlette(routes=metrics_routes(engine))), base_url="http://t"
    )
    try:
        before = await scrape(client)
        assert value(before, "jarvis_requests_total") == 0
        assert value(before, "jarvis_router_requests_in_flight", gen_ai_provider_name="ollama") == 0
        assert value(before, "jarvis_circuit_breaker_open", gen_ai_provider_name="flaky") == 0

        # A comparison (what the TUI runs) of the two hosts: one request each, counted from the bus.
        options = GenerationOptions(max_tokens=8)
        async for _ in engine.orchestrator.compare("Say hi.", [f"ollama/{SMOL}", f"flaky/{SMOL}"], options):
            pass
        found = await scrape(client)
        model = {"gen_ai_request_model": f"ollama/{SMOL}", "gen_ai_provider_name": "ollama"}
        assert value(found, "jarvis_requests_total", status="ok", **model) == 1
        assert value(found, "gen_ai_client_operation_duration_seconds_count", **model) == 1
        assert value(found, "gen_ai_client_operation_duration_seconds_sum", **model) > 0
        assert value(found, "gen_ai_client_operation_time_to_first_chunk_seconds_count", **model) == 1
        assert value(found, "gen_ai_client_token_usage_count", gen_ai_token_type="output", **model) == 1
        assert value(found, "gen_ai_client_token_usage_sum", gen_ai_token_type="output", **model) >= 1
        assert value(found, "gen_ai_client_token_usage_sum", gen_ai_token_type="input", **model) >= 1
        assert all(ls >= {("gen_ai_operation_name", "chat")} for (n, ls) in found if n.startswith("gen_ai_"))
        assert value(found, "jarvis_requests_total", status="ok", gen_ai_provider_name="flaky") == 1

        # A host answering 500: retried, its breaker opens, the step falls back to the other host.
        proxy.mode = "status500"
        flaky, good = engine.registry.get(f"flaky/{SMOL}"), engine.registry.get(f"ollama/{SMOL}")
        engine.runner.policy.base_delay_s = 0.01
        ctx = StepContext("run_m", "step_m", "served", "code", asyncio.Event())
        outcome = StepOutcome()
        async for _ in engine.runner.run(ctx, [flaky, good], [Message("user", "Hi")], options, 10, outcome):
            pass
        assert outcome.model is not None and outcome.model.id == good.id
        found = await scrape(client)
        failed = value(found, "jarvis_requests_total", status="failed", gen_ai_provider_name="flaky")
        assert failed == 3
        assert value(found, "jarvis_fallbacks_total", gen_ai_request_model=flaky.id) == 1
        assert value(found, "jarvis_requests_total", status="ok", **model) == 2
        assert value(found, "jarvis_circuit_breaker_open_models") == 1
        engine.breaker.record_failure("provider:flaky", immediately=True)
        found = await scrape(client)
        assert value(found, "jarvis_circuit_breaker_open", gen_ai_provider_name="flaky") == 1
        assert value(found, "jarvis_circuit_breaker_open", gen_ai_provider_name="ollama") == 0

        # While a slot is held, a second request waits: one in flight, one queued, then none.
        held = await engine.router.acquire(good)
        waiting = asyncio.create_task(
            _drain(
                engine.runner.run(
                    StepContext("run_q", "step_q", "served", "code", asyncio.Event()),
                    [good],
                    [Message("user", "Hi")],
                    options,
                    10,
                    StepOutcome(),
                )
            )
        )
        await asyncio.sleep(0.05)
        found = await scrape(client)
        assert value(found, "jarvis_router_requests_in_flight", gen_ai_provider_name="ollama") == 1
        assert value(found, "jarvis_router_queue_depth", gen_ai_provider_name="ollama") == 1
        held.release()
        await waiting
        found = await scrape(client)
        assert value(found, "jarvis_router_requests_in_flight") == 0
        assert value(found, "jarvis_router_queue_depth") == 0
        # The library's global registry was left alone.
        assert prometheus_client.REGISTRY.get_sample_value("jarvis_requests_total") is None
    finally:
        await client.aclose()
        await engine.close()


async def _drain(events) -> None:
    async for _ in events:
        pass
