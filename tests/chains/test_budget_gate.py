"""Cloud fallbacks stop once the budget is spent: a value kept on the loop, refreshed after paid requests."""

from __future__ import annotations

from jarvis.app.config import Config
from jarvis.app.engine import build_engine
from jarvis.app.paths import resolve_paths
from jarvis.chains.bus import RequestCompleted, RequestRecord
from jarvis.providers.types import Usage


async def test_a_paid_request_past_the_budget_closes_the_cloud_gate(tmp_path):
    config = Config.model_validate(
        {
            "embedded": {"enabled": False},
            "ollama": {"enabled": False},
            "lmstudio": {"enabled": False},
            "cloud": {"enabled": True},
        }
    )
    engine = build_engine(config, resolve_paths({"JARVIS_HOME": str(tmp_path)}))
    try:
        engine.ledger.set_budget("daily", 0.5)
        assert await engine.cloud.refresh() and engine.cloud.allowed()
        paid = RequestRecord("cloud/openai/gpt-4o-mini", "ok", provider="cloud", usage=Usage(cost_usd=0.75))
        engine.ledger.record_request(paid)
        engine.bus.publish(RequestCompleted(None, paid))
        assert engine.budget_refresh is not None
        await engine.budget_refresh
        assert not engine.cloud.allowed()
    finally:
        await engine.close()
