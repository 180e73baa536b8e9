"""A cloud provider with two stored keys survives the first being revoked while the engine runs: the
same request is answered with the second key, the user sees one notice, no fallback, and the ledger
counts each key's use by its name."""

from __future__ import annotations

import pytest

from jarvis.app.config import Config
from jarvis.app.engine import build_engine
from jarvis.app.key_store import key_store
from jarvis.app.paths import resolve_paths
from jarvis.chains.events import FallbackTaken, Notice, RunFinished
from jarvis.chains.run_options import RunOptions

pytestmark = pytest.mark.slow  # a loopback server, litellm, the encrypted key file

MODEL = "cloud/openai/gpt-4o-mini"
KEY_A = "sk-test-AAAAAAAAAAAAAAAAAAAAfirst"
KEY_B = "sk-test-BBBBBBBBBBBBBBBBBBBsecond"


def cloud_only(server_url: str) -> Config:
    return Config.model_validate(
        {
            "ollama": {"enabled": False},
            "lmstudio": {"enabled": False},
            "embedded": {"enabled": False},
            "cloud": {"enabled": True, "models": ["openai/gpt-4o-mini"], "api_base": server_url},
        }
    )


async def run(engine, task: str) -> list:
    options = RunOptions(model=MODEL, no_fallback=True, use_cache=False, overrides={"max_tokens": 8})
    return [e async for e in engine.orchestrator.run(task, options)]


async def test_first_key_revoked_mid_session(cloud_server, key_env):
    paths = resolve_paths()
    store = key_store(paths)
    store.add("openai", "first", KEY_A)
    store.add("openai", "second", KEY_B)
    cloud_server.keys = {KEY_A: "ok", KEY_B: "ok"}
    engine = await build_engine(cloud_only(cloud_server.url), paths).start()
    try:
        events = await run(engine, "Say pong.")
        assert isinstance(events[-1], RunFinished) and events[-1].status == "completed"
        assert cloud_server.seen == [KEY_A]

        cloud_server.keys[KEY_A] = "revoked"  # revoked while the workbench runs
        cloud_server.seen.clear()
        events = await run(engine, "Say pong again.")
        done = events[-1]
        assert isinstance(done, RunFinished) and done.status == "completed"
        assert cloud_server.seen == [KEY_A, KEY_B]
        notices = [e.text for e in events if isinstance(e, Notice)]
        assert notices == [
            "The openai key 'first' was rejected; answered with key 'second' ('first' sits out 600 s)."
        ]
        assert not [e for e in events if isinstance(e, FallbackTaken)], "a key switch is not a fallback"

        cloud_server.seen.clear()
        await run(engine, "And once more.")
        assert cloud_server.seen == [KEY_B], "the revoked key sits out its cooldown"

        await engine.ledger.flush()
        usage = await engine.ledger.key_usage()
        assert usage[("openai", "first")]["requests"] == 2
        assert usage[("openai", "first")]["last_outcome"] == "rejected"
        assert usage[("openai", "second")]["requests"] == 2
        assert usage[("openai", "second")]["last_outcome"] == "ok"
        assert usage[("openai", "second")]["tokens"] == 12
        # One request row per answered step: the key switch happened inside the attempt.
        rows = await engine.ledger.query("SELECT status FROM requests WHERE run_id=?", [done.run_id])
        assert rows == [{"status": "ok"}]
    finally:
        await engine.close()
