"""The orchestrator end to end on real models: chains, compare, cancel, cache, ledger records."""

from __future__ import annotations

import asyncio

import pytest

from jarvis.chains.events import (
    Notice,
    RunCancelled,
    RunFailed,
    RunStarted,
    StepFinished,
    StepStarted,
    TokenDelta,
)
from jarvis.chains.run_options import RunOptions
from jarvis.chains.scores import PerformanceMonitor
from jarvis.providers.embedded import EmbeddedProvider
from jarvis.providers.lmstudio import LMStudioProvider
from jarvis.providers.ollama import OllamaProvider
from jarvis.providers.types import GenerationOptions
from tests.chains.conftest import finished, text_of
from tests.chains.scripted import Slow

TASK = "Write a Python function that reverses a string."


@pytest.fixture
async def embedded_rig(make_rig):
    return await make_rig([EmbeddedProvider()])


async def test_code_chain_produces_a_parsed_code_block(embedded_rig):
    events = await embedded_rig.events(
        embedded_rig.orchestrator.run(
            TASK, RunOptions(chain="code", overrides={"max_tokens": 160, "temperature": 0})
        )
    )
    roles = [e.role for e in events if isinstance(e, StepStarted)]
    assert roles[:3] == ["planner", "executor", "reviewer"]
    done = finished(events)
    blocks = done.result.code_blocks
    assert blocks and blocks[0].language == "python" and blocks[0].syntax_error is None
    assert "def " in blocks[0].code and blocks[0].filename.endswith(".py")
    verdict = done.result.verdict
    assert verdict is not None and verdict.decision in ("approve", "revise", "unclear")
    # Every event of the run carries the same id, and the ledger agrees with the stream.
    assert {e.run_id for e in events} == {done.run_id}
    await embedded_rig.ledger.flush()
    run = await embedded_rig.ledger.run(done.run_id)
    assert run["status"] == "completed" and run["chain"] == "code"
    assert [s["role"] for s in run["steps"]][:3] == roles[:3]
    assert all(s["status"] == "completed" for s in run["steps"])
    for step in (e for e in events if isinstance(e, StepFinished)):
        assert text_of(events, step.step_id) == step.output


async def test_default_chain_streams_and_records_requests(embedded_rig):
    events = await embedded_rig.events(
        embedded_rig.orchestrator.run(TASK, RunOptions(overrides={"max_tokens": 40}))
    )
    assert isinstance(events[0], RunStarted) and events[0].analysis.task_type == "code_generation"
    started = next(e for e in events if isinstance(e, StepStarted))
    assert started.model_id == "embedded/smollm2-135m" and "score" in started.reason
    assert sum(isinstance(e, TokenDelta) for e in events) > 5
    done = finished(events)
    await embedded_rig.ledger.flush()
    rows = await embedded_rig.ledger.query("SELECT status, task_type, role, completion_tokens FROM requests")
    usage = next(e for e in events if isinstance(e, StepFinished)).usage
    assert rows == [
        {
            "status": "ok",
            "task_type": "code_generation",
            "role": "executor",
            "completion_tokens": usage.completion_tokens,
        }
    ]
    assert done.cost_usd == 0.0


async def test_cancel_mid_stream_stops_promptly_and_is_recorded(embedded_rig):
    cancel = asyncio.Event()
    events = []
    async for event in embedded_rig.orchestrator.run(
        "Write a very long essay about compilers.", RunOptions(overrides={"max_tokens": 800}), cancel
    ):
        events.append(event)
        if sum(isinstance(e, TokenDelta) for e in events) == 5:
            cancel.set()
    assert isinstance(events[-1], RunCancelled)
    assert sum(isinstance(e, TokenDelta) for e in events) < 40, "generation stopped soon after the cancel"
    await embedded_rig.ledger.flush()
    run = await embedded_rig.ledger.run(events[-1].run_id)
    assert run["status"] == "cancelled" and run["steps"][0]["status"] == "cancelled"


async def test_deterministic_repeat_is_served_from_cache(embedded_rig):
    opts = RunOptions(overrides={"max_tokens": 30, "temperature": 0, "seed": 3})
    first = await embedded_rig.events(embedded_rig.orchestrator.run("Say hello to Ada.", opts))
    second = await embedded_rig.events(embedded_rig.orchestrator.run("Say hello to Ada.", opts))
    assert text_of(first) == text_of(second)
    assert any(isinstance(e, Notice) and "cache" in e.text for e in second)
    assert not any(isinstance(e, Notice) and "cache" in e.text for e in first)
    no_cache = await embedded_rig.events(
        embedded_rig.orchestrator.run(
            "Say hello to Ada.", RunOptions(overrides={"max_tokens": 30, "temperature": 0.9})
        )
    )
    assert not any(isinstance(e, Notice) and "cache" in e.text for e in no_cache)
    stats = await embedded_rig.ledger.cache_stats()
    assert stats["hits"] == 1


async def test_unknown_chain_and_model_fail_with_a_sentence(embedded_rig):
    [failed] = await embedded_rig.events(embedded_rig.orchestrator.run(TASK, RunOptions(chain="nope")))
    assert isinstance(failed, RunFailed) and "no chain named 'nope'" in failed.message
    events = await embedded_rig.events(
        embedded_rig.orchestrator.run(TASK, RunOptions(model="ollama/qwen:7b"))
    )
    assert isinstance(events[-1], RunFailed) and events[-1].kind == "no_model"


async def test_runs_on_the_loopback_ollama_and_openai_servers(make_rig, ollama_url, openai_url):
    rig = await make_rig([OllamaProvider("ollama", ollama_url), LMStudioProvider("lmstudio", openai_url)])
    for model in ("ollama/smollm2:135m", "lmstudio/smollm2-135m-instruct"):
        options = RunOptions(model=model, overrides={"max_tokens": 40})
        events = await rig.events(rig.orchestrator.run(TASK, options))
        done = finished(events)
        step = next(e for e in events if isinstance(e, StepFinished))
        assert step.model_id == model and step.output
        assert "requested explicitly" in next(e for e in events if isinstance(e, StepStarted)).reason
        assert done.result.answer == step.output


async def test_compare_two_models_concurrently_when_they_fit(make_rig, ollama_url, openai_url):
    rig = await make_rig([OllamaProvider("ollama", ollama_url), LMStudioProvider("lmstudio", openai_url)])
    events = await rig.events(
        rig.orchestrator.compare(
            "Say hi.",
            ["ollama/smollm2:135m", "lmstudio/smollm2-135m-instruct"],
            GenerationOptions(max_tokens=12),
        )
    )
    done = finished(events)
    assert done.result.parallel is True
    answers = {a.label: a for a in done.result.answers}
    assert answers["A"].model == "ollama/smollm2:135m" and answers["A"].output
    assert answers["B"].usage is not None and (answers["B"].usage.ttft_s or 0) > 0
    # The JSON kept in the ledger (and printed by `compare --json`) keeps its shape.
    assert done.as_json()["result"]["answers"][1]["usage"]["chars"] == len(answers["B"].output)
    starts = [i for i, e in enumerate(events) if isinstance(e, StepStarted)]
    first_finish = next(i for i, e in enumerate(events) if isinstance(e, StepFinished))
    assert len(starts) == 2 and max(starts) < first_finish, "both started before either finished"


async def test_compare_two_embedded_models_runs_one_after_another(embedded_rig):
    events = await embedded_rig.events(
        embedded_rig.orchestrator.compare(
            "Say hi.", ["embedded/smollm2-135m", "embedded/smollm2-135m"], GenerationOptions(max_tokens=8)
        )
    )
    done = finished(events)
    assert done.result.parallel is False
    assert any(isinstance(e, Notice) and "one after another" in e.text for e in events)
    kinds = [type(e).__name__ for e in events if isinstance(e, (StepStarted, StepFinished))]
    assert kinds == ["StepStarted", "StepFinished", "StepStarted", "StepFinished"]


async def test_run_options_turn_the_cache_off(embedded_rig):
    opts = RunOptions(overrides={"max_tokens": 20, "temperature": 0, "seed": 5})
    await embedded_rig.events(embedded_rig.orchestrator.run("Say hello to Grace.", opts))
    again = await embedded_rig.events(
        embedded_rig.orchestrator.run(
            "Say hello to Grace.", RunOptions(use_cache=False, overrides=opts.overrides)
        )
    )
    assert not any(isinstance(e, Notice) and "cache" in e.text for e in again)
    assert (await embedded_rig.ledger.cache_stats())["hits"] == 0


async def test_the_engine_takes_its_clock_and_ids(make_rig):
    class Clock:
        now = 1000.0

        def time(self) -> float:
            return 1_700_000_000.0 + self.now

        def perf_counter(self) -> float:
            self.now += 0.5
            return self.now

    counters: dict[str, int] = {}

    def ids(prefix: str) -> str:
        counters[prefix] = counters.get(prefix, 0) + 1
        return f"{prefix}_{counters[prefix]}"

    rig = await make_rig([EmbeddedProvider()], clock=Clock(), ids=ids)
    events = await rig.events(rig.orchestrator.run(TASK, RunOptions(overrides={"max_tokens": 8})))
    assert {e.run_id for e in events} == {"run_1"}
    assert [e.step_id for e in events if isinstance(e, StepStarted)] == ["step_1"]
    await rig.ledger.flush()
    run = await rig.ledger.run("run_1")
    assert 1_700_001_000 < run["started_at"] < run["finished_at"] < 1_700_002_000
    assert finished(events).total_s % 0.5 == 0


async def test_a_cancelled_comparison_stops_every_model_and_is_recorded(make_rig):
    slow = Slow()
    rig = await make_rig([slow])
    cancel = asyncio.Event()
    events = []
    async for event in rig.orchestrator.compare("Count.", ["slow/a-1b", "slow/b-1b"], cancel=cancel):
        events.append(event)
        if sum(isinstance(e, TokenDelta) for e in events) == 6:
            cancel.set()
    assert isinstance(events[-1], RunCancelled) and slow.open_streams == 0
    await rig.ledger.flush()
    run = await rig.ledger.run(events[-1].run_id)
    assert run["status"] == "cancelled" and {s["status"] for s in run["steps"]} == {"cancelled"}
    rows = await rig.ledger.call_fn(lambda led: PerformanceMonitor(led).table())
    # A cancel is not the models' failure: counted, but no request that counts for reliability.
    assert [(r["model"], r["cancelled"], r["requests"]) for r in rows] == [
        ("slow/a-1b", 1, 0),
        ("slow/b-1b", 1, 0),
    ]


async def test_a_comparison_whose_reader_leaves_stops_its_models(make_rig):
    slow = Slow()
    rig = await make_rig([slow])
    stream = rig.orchestrator.compare("Count.", ["slow/a-1b", "slow/b-1b"])
    async for event in stream:
        if isinstance(event, TokenDelta):
            break
    await stream.aclose()
    for _ in range(50):
        if slow.open_streams == 0:
            break
        await asyncio.sleep(0.01)
    assert slow.open_streams == 0
