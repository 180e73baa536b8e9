"""Every fallback path, with a real failing server (the fault proxy) in front of the primary model."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from jarvis.chains.events import FallbackTaken, Notice, RunFailed, StepFinished, StepStarted, TokenDelta
from jarvis.chains.fallback import FAILOVER, RETRY, FallbackPolicy
from jarvis.chains.run_options import RunOptions
from jarvis.providers.cloud import CloudProvider
from jarvis.providers.embedded import EmbeddedProvider
from jarvis.providers.errors import ProviderUnavailable
from jarvis.providers.lmstudio import LMStudioProvider
from jarvis.providers.ollama import OllamaProvider
from jarvis.providers.openai_compat import OpenAICompatProvider
from tests.chains.conftest import BACKUP, PRIMARY, finished, text_of
from tests.conftest import dead_url
from tests.helpers import ask, collect

OPTS = RunOptions(model=PRIMARY, overrides={"max_tokens": 60, "temperature": 0})
TASK = "Write a Python function that adds two numbers."


def chats(proxy) -> int:
    return proxy.paths.count("/v1/chat/completions")


def fallbacks(events):
    return [e for e in events if isinstance(e, FallbackTaken)]


async def rows(rig, run_id):
    await rig.ledger.flush()
    return await rig.ledger.query(
        "SELECT model_id, status, error_kind, partial_text FROM requests WHERE run_id=? ORDER BY id", [run_id]
    )


async def test_primary_works_when_healthy(flaky):
    rig, proxy = flaky
    events = await rig.events(rig.orchestrator.run(TASK, OPTS))
    step = next(e for e in events if isinstance(e, StepFinished))
    assert step.model_id == PRIMARY and not fallbacks(events)
    assert next(e for e in events if isinstance(e, StepStarted)).fallbacks == (BACKUP,)


async def test_stream_cut_midway_keeps_partial_and_fallback_completes(flaky):
    rig, proxy = flaky
    proxy.mode, proxy.after_lines = "cut", 6
    events = await rig.events(rig.orchestrator.run(TASK, OPTS))
    [fb] = fallbacks(events)
    assert fb.from_model == PRIMARY and fb.to_model == BACKUP and fb.error_kind == "bad_response"
    assert fb.partial_text, "the text streamed before the cut is kept"
    done = finished(events)
    step = next(e for e in events if isinstance(e, StepFinished))
    assert step.model_id == BACKUP and step.output and done.result.answer == step.output
    # The user saw the partial text, then the backup's answer.
    assert text_of(events).startswith(fb.partial_text)
    recorded = await rows(rig, done.run_id)
    assert recorded[0]["status"] == "failed" and recorded[0]["partial_text"] == fb.partial_text
    assert recorded[-1] == {"model_id": BACKUP, "status": "ok", "error_kind": None, "partial_text": None}


async def test_malformed_line_falls_back(flaky):
    rig, proxy = flaky
    proxy.mode, proxy.after_lines = "malformed", 3
    events = await rig.events(rig.orchestrator.run(TASK, OPTS))
    assert fallbacks(events)[0].error_kind == "bad_response"
    assert next(e for e in events if isinstance(e, StepFinished)).model_id == BACKUP


async def test_server_error_is_retried_with_backoff_then_fails_over(flaky):
    rig, proxy = flaky
    proxy.mode = "status500"
    events = await rig.events(rig.orchestrator.run(TASK, OPTS))
    retries = [e for e in events if isinstance(e, Notice) and "Retrying" in e.text]
    assert len(retries) == 2 and chats(proxy) == 3  # first try + 2 retries
    assert fallbacks(events)[0].error_kind == "unavailable"
    finished(events)


async def test_rate_limit_honours_retry_after(flaky):
    rig, proxy = flaky
    proxy.mode, proxy.retry_after = "status429", "1"
    start = time.monotonic()
    events = await rig.events(rig.orchestrator.run(TASK, OPTS))
    notes = [e.text for e in events if isinstance(e, Notice) and "Retrying" in e.text]
    assert notes and "Retrying in 1.0 s" in notes[0]
    assert time.monotonic() - start >= 2.0  # waited as told, twice
    assert fallbacks(events)[0].error_kind == "rate_limited"
    finished(events)


async def test_rate_limit_with_a_long_wait_fails_over_at_once(flaky):
    rig, proxy = flaky
    proxy.mode, proxy.retry_after = "status429", "3600"
    events = await rig.events(rig.orchestrator.run(TASK, OPTS))
    assert chats(proxy) == 1 and fallbacks(events)[0].error_kind == "rate_limited"
    finished(events)


async def test_hang_times_out_and_fails_over(make_rig, proxy_for, openai_url):
    proxy = await proxy_for(openai_url)
    rig = await make_rig([OpenAICompatProvider("flaky", proxy.url, timeout=1.0), EmbeddedProvider()])
    proxy.mode = "hang"
    events = await rig.events(rig.orchestrator.run(TASK, OPTS))
    assert fallbacks(events)[0].error_kind == "timeout"
    finished(events)


DEAD_BACKENDS = {
    "openai": (lambda url: OpenAICompatProvider("flaky", url), "smollm2-135m-instruct"),
    "ollama": (lambda url: OllamaProvider("flaky", url), "smollm2:135m"),
    # litellm words a refused connection "Connection error." under an InternalServerError.
    "cloud": (
        lambda url: CloudProvider(
            "flaky",
            ["openai/smollm2"],
            api_keys={"openai": "sk-test-12345678"},
            api_base=url + "/v1",
            timeout=5,
        ),
        "openai/smollm2",
    ),
}


@pytest.mark.parametrize("kind", list(DEAD_BACKENDS))
async def test_dead_backend_fails_over_fast_then_is_skipped(make_rig, kind):
    """Whichever adapter meets the refused connection, the decision is the same: no retries, the next
    model at once, and the provider's breaker open for the next run."""
    make_provider, name = DEAD_BACKENDS[kind]
    rig = await make_rig([make_provider(dead_url()), EmbeddedProvider()])
    # The registry cannot list a dead server; register its model as the user would.
    from jarvis.providers.registry import ModelEntry
    from jarvis.providers.types import ModelInfo

    info = ModelInfo(
        provider="flaky",
        name=name,
        context_length=8192,
        capabilities=frozenset({"chat", "completion"}),
        local=False,
    )
    rig.registry.add_model(ModelEntry(info, kind, "available", info.capabilities, 8192, None, 0, ""))
    rig.orchestrator.selector.allow_cloud = lambda: True
    primary = info.id
    t0 = time.monotonic()
    events = await rig.events(rig.orchestrator.run(TASK, replace(OPTS, model=primary)))
    first_failover = next(e for e in events if isinstance(e, FallbackTaken))
    assert first_failover.error_kind == "unavailable"
    finished(events)
    retries = [e for e in events if isinstance(e, Notice) and "Retrying" in e.text]
    assert not retries, "no retries of a dead server"
    assert time.monotonic() - t0 < 30
    # The provider's breaker is open: the next run does not even try it.
    assert rig.runner.cooling(primary)
    events = await rig.events(rig.orchestrator.run(TASK, RunOptions(overrides={"max_tokens": 20})))
    assert not fallbacks(events)
    assert next(e for e in events if isinstance(e, StepStarted)).model_id == BACKUP


async def test_context_overflow_moves_to_a_larger_window(make_rig, openai_url):
    """LM Studio reports a model's maximum context, but may have loaded it with a smaller one."""
    small = LMStudioProvider("small", openai_url)
    rig = await make_rig([small, EmbeddedProvider()])
    assert rig.registry.get("small/smollm2-135m-instruct").context_length == 8192
    small._windows["smollm2-135m-instruct"] = 1024  # the context it was actually loaded with
    long_task = "Summarize this log:\n" + "2024-01-01 INFO request served in 12 ms\n" * 70
    events = await rig.events(
        rig.orchestrator.run(
            long_task, RunOptions(model="small/smollm2-135m-instruct", overrides={"max_tokens": 40})
        )
    )
    [fb] = fallbacks(events)
    assert fb.error_kind == "context_overflow" and "1024-token" in fb.message and fb.to_model == BACKUP
    assert next(e for e in events if isinstance(e, StepFinished)).model_id == BACKUP
    finished(events)


async def test_every_model_failing_is_a_clear_failure(make_rig, proxy_for, openai_url):
    proxy = await proxy_for(openai_url)
    rig = await make_rig([OpenAICompatProvider("flaky", proxy.url)], retry_base=0.001)
    proxy.mode = "status500"
    events = await rig.events(rig.orchestrator.run(TASK, OPTS))
    failed = events[-1]
    assert isinstance(failed, RunFailed)
    assert "failed on every model tried" in failed.message and "HTTP 500" in failed.message
    await rig.ledger.flush()
    assert (await rig.ledger.run(failed.run_id))["status"] == "failed"
    assert not any(isinstance(e, TokenDelta) for e in events)


async def test_a_refused_connection_is_one_decision_whichever_adapter_saw_it():
    """Ollama says "Could not connect", litellm "Connection error" under an InternalServerError:
    the decision reads the error's type and ``refused`` field, so both fail over at once and
    open the provider's breaker, with no retries of a server that is not there."""
    url = dead_url()
    adapters = [
        (OllamaProvider("ollama", url), "qwen2.5:0.5b"),
        (
            CloudProvider(
                "cloud",
                ["openai/x"],
                api_keys={"openai": "sk-test-key-123456"},
                api_base=url + "/v1",
                timeout=5,
            ),
            "openai/x",
        ),
        (OpenAICompatProvider("lan", url), "smollm2"),
    ]
    policy = FallbackPolicy()
    for provider, model in adapters:
        with pytest.raises(ProviderUnavailable) as caught:
            await collect(provider.stream_chat(model, ask("hi")))
        await provider.close()
        assert caught.value.refused, f"{provider.name}: {caught.value}"
        decision = policy.decide(caught.value, attempt=0, streamed_text=False)
        assert (decision.action, decision.provider_down) == (FAILOVER, True), provider.name


def test_an_outage_that_is_not_a_refusal_is_retried_then_failed_over():
    policy = FallbackPolicy(max_retries=2)
    dropped = ProviderUnavailable("Could not connect, then the server dropped the connection.")  # words lie
    assert [policy.decide(dropped, n, False).action for n in range(3)] == [RETRY, RETRY, FAILOVER]
    assert not policy.decide(dropped, 2, False).provider_down
    refused = ProviderUnavailable("The server is down.", refused=True)
    assert policy.decide(refused, 0, False).provider_down
