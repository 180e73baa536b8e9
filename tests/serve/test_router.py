"""The router: limits hold under concurrency, interactive before background, a bounded queue, load sharing
across two real Ollama test servers, open breakers skipped, and cancelling while queued holds nothing."""

from __future__ import annotations

import asyncio

import pytest

from jarvis.chains.bus import RequestCompleted
from jarvis.chains.router import BACKGROUND, INTERACTIVE, Limit, QueueCancelled, QueueFull, Router
from jarvis.chains.run_options import RunOptions
from jarvis.chains.step_runner import Cancelled, StepContext, StepOutcome, provider_key
from jarvis.providers.ollama import OllamaProvider
from jarvis.providers.registry import ModelEntry
from jarvis.providers.types import GenerationOptions, Message, ModelInfo
from tests.chains.rig import build_rig
from tests.chains.scripted import ScriptedCoder
from tests.conftest import run_server

SMOL = "smollm2:135m"


def entry(provider: str, name: str, kind: str = "ollama") -> ModelEntry:
    return ModelEntry(
        info=ModelInfo(provider, name),
        provider_kind=kind,
        status="ok",
        capabilities=frozenset({"chat"}),
        context_length=2048,
        fits_memory=True,
        memory_needed=0,
        memory_note="",
    )


async def hold_for(router: Router, e: ModelEntry, peak: dict[str, int], **kw) -> str:
    lease = await router.acquire(e, **kw)
    try:
        peak["now"] += 1
        peak["max"] = max(peak["max"], peak["now"])
        await asyncio.sleep(0.01)
        return lease.endpoint.id
    finally:
        peak["now"] -= 1
        lease.release()


async def test_one_request_per_ollama_model_and_three_per_host_under_concurrency():
    router = Router()
    a, b, c, d = (entry("ollama", f"m{i}") for i in range(4))
    one = {"now": 0, "max": 0}
    await asyncio.gather(*(hold_for(router, a, one) for _ in range(8)))
    assert one["max"] == 1
    many = {"now": 0, "max": 0}
    await asyncio.gather(*(hold_for(router, m, many) for m in (a, b, c, d) for _ in range(3)))
    assert many["max"] == 3  # Ollama's default of three loaded models, never four
    assert router.load().in_flight == 0 and router.load().queued == 0


async def test_limits_come_from_config_by_provider_name_then_kind():
    router = Router(limits={"gpubox": Limit(per_model=2), "ollama": Limit(per_model=3, total=0)})
    assert router.limit_for(entry("gpubox", "m")) == Limit(per_model=2, total=0)  # the rest by kind
    assert router.limit_for(entry("other", "m")) == Limit(per_model=3, total=0)
    assert router.limit_for(entry("cloud", "m", kind="cloud")) == Limit(per_model=4, total=8)
    assert router.limit_for(entry("lmstudio", "m", kind="lmstudio")) == Limit(per_model=1, total=1)
    peak = {"now": 0, "max": 0}
    await asyncio.gather(*(hold_for(router, entry("gpubox", "m"), peak) for _ in range(6)))
    assert peak["max"] == 2


async def test_interactive_requests_are_served_before_background_ones_queued_earlier():
    router = Router()
    e = entry("ollama", "m")
    first = await router.acquire(e)
    order: list[str] = []

    async def wait(label: str, priority: int) -> None:
        lease = await router.acquire(e, priority=priority)
        order.append(label)
        await asyncio.sleep(0)
        lease.release()

    tasks = [asyncio.create_task(wait("bg1", BACKGROUND)), asyncio.create_task(wait("bg2", BACKGROUND))]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(wait("tui", INTERACTIVE)))
    await asyncio.sleep(0)
    assert router.load().queued == 3 and router.load().in_flight == 1
    first.release()
    await asyncio.gather(*tasks)
    assert order == ["tui", "bg1", "bg2"]


async def test_a_full_queue_refuses_background_requests_with_a_retry_after():
    router = Router(queue_size=2)
    e = entry("ollama", "m")
    held = await router.acquire(e)
    waiting = [asyncio.create_task(router.acquire(e, priority=BACKGROUND)) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(QueueFull) as info:
        await router.acquire(e, priority=BACKGROUND)
    assert info.value.retry_after >= 1 and info.value.kind == "queue_full"
    assert "Try again in" in str(info.value)
    # A person at the keyboard is never turned away: interactive requests still queue.
    person = asyncio.create_task(router.acquire(e, priority=INTERACTIVE))
    await asyncio.sleep(0)
    assert router.load().queued == 3
    held.release()
    (await person).release()
    for t in waiting:
        (await t).release()
    assert router.load().in_flight == 0 and router.load().queued == 0


async def test_cancelling_while_queued_frees_nothing_it_did_not_take():
    router = Router()
    e = entry("ollama", "m")
    held = await router.acquire(e)
    cancel = asyncio.Event()
    by_event = asyncio.create_task(router.acquire(e, cancel=cancel))
    by_task = asyncio.create_task(router.acquire(e))
    await asyncio.sleep(0)
    assert router.load().queued == 2
    cancel.set()
    with pytest.raises(QueueCancelled):
        await by_event
    by_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await by_task
    # Neither left the queue holding a slot, nor freed the one still held.
    assert (router.load().in_flight, router.load().queued) == (1, 0)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(router.acquire(e), 0.05)
    held.release()
    assert router.load().in_flight == 0
    (await asyncio.wait_for(router.acquire(e), 1)).release()


async def test_a_slot_granted_in_the_moment_of_cancel_is_given_back():
    router = Router()
    e = entry("ollama", "m")
    held = await router.acquire(e)
    waiter = asyncio.create_task(router.acquire(e))
    await asyncio.sleep(0)
    held.release()  # grants the waiter's future ...
    waiter.cancel()  # ... but its task is cancelled before it resumes
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert router.load().in_flight == 0


async def test_the_same_model_on_two_hosts_goes_to_the_less_busy_one():
    router = Router()
    a, b = entry("ollama", "qwen"), entry("gpubox", "qwen")
    first = await router.acquire(a, peers=[b])
    second = await router.acquire(a, peers=[b])
    assert (first.endpoint.id, second.endpoint.id) == ("ollama/qwen", "gpubox/qwen")
    # A model of the same name on another kind of backend is not the same model: it waits for its own.
    lms = entry("lms", "qwen", kind="lmstudio")
    third = asyncio.create_task(router.acquire(a, peers=[lms]))
    await asyncio.sleep(0)
    assert not third.done() and router.load().queued == 1
    second.release()  # frees gpubox, which is not one of its endpoints
    await asyncio.sleep(0)
    assert not third.done()
    first.release()
    (await third).release()
    assert router.load().in_flight == 0


async def until_queued(router: Router, n: int) -> None:
    for _ in range(400):
        if router.load().queued == n:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{n} requests never queued: {router.load()}")


async def test_a_background_chain_run_waits_behind_an_interactive_one_on_the_same_slot(tmp_path):
    rig = build_rig([ScriptedCoder()], tmp_path / "ledger.db", use_cache=False)
    await rig.registry.refresh()
    router = rig.runner.router
    router.limits = {"scripted": Limit(per_model=1)}
    model = rig.registry.get("script/coder-7b")
    answered: list[str] = []
    rig.bus.subscribe(RequestCompleted, lambda e: answered.append(e.run_id))

    async def run(priority: int) -> str:
        options = RunOptions(model=model.id, priority=priority)
        events = await rig.events(rig.orchestrator.run("Write a function that reverses a string.", options))
        return events[-1].run_id

    held = await router.acquire(model)  # say, an editor's request holding Ollama's one slot
    background = asyncio.create_task(run(BACKGROUND))
    await until_queued(router, 1)
    interactive = asyncio.create_task(run(INTERACTIVE))
    await until_queued(router, 2)
    held.release()
    bg, fg = await background, await interactive
    assert answered[:2] == [fg, bg]  # queued later, served first; then they take turns
    assert (router.load().in_flight, router.load().queued) == (0, 0)
    await rig.ledger.flush()
    rig.ledger.close()


@pytest.fixture(scope="module")
def second_ollama_url(model_path):
    """A second Ollama test server with the same model: a second host."""
    with run_server("tests.servers.ollama_server", "/", "--model", str(model_path)) as url:
        yield url


def ctx(i: int, cancel: asyncio.Event | None = None, priority: int = INTERACTIVE) -> StepContext:
    return StepContext(
        f"run_r{i}", f"step_r{i}", "executor", "code", cancel or asyncio.Event(), False, priority
    )


async def step(runner, c: StepContext, model: ModelEntry) -> StepOutcome:
    outcome = StepOutcome()
    messages = [Message("user", "Say hi.")]
    async for _ in runner.run(c, [model], messages, GenerationOptions(max_tokens=6), 20, outcome):
        pass
    return outcome


@pytest.mark.slow
async def test_two_ollama_hosts_share_the_load_and_an_open_breaker_is_skipped(
    tmp_path, ollama_url, second_ollama_url
):
    rig = build_rig(
        [OllamaProvider("ollama", ollama_url), OllamaProvider("ollama2", second_ollama_url)],
        tmp_path / "ledger.db",
    )
    await rig.registry.refresh()
    model = rig.registry.get(f"ollama/{SMOL}")
    outcomes = await asyncio.gather(step(rig.runner, ctx(1), model), step(rig.runner, ctx(2), model))
    assert sorted(o.model.id for o in outcomes) == [f"ollama/{SMOL}", f"ollama2/{SMOL}"]
    assert all(o.completion and o.completion.text for o in outcomes)

    rig.breaker.record_failure(provider_key(rig.registry.get(f"ollama2/{SMOL}")), immediately=True)
    seen: list[tuple[int, int]] = []

    async def watch() -> None:
        while True:
            load = rig.runner.router.load()
            seen.append((load.in_flight, load.queued))
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    outcomes = await asyncio.gather(step(rig.runner, ctx(3), model), step(rig.runner, ctx(4), model))
    watcher.cancel()
    assert [o.model.id for o in outcomes] == [f"ollama/{SMOL}"] * 2
    assert (1, 1) in seen and max(n for n, _ in seen) == 1  # one waited for the other's slot
    await rig.ledger.flush()
    rig.ledger.close()
    await rig.registry.close()


@pytest.mark.slow
async def test_a_step_cancelled_while_queued_records_no_request_and_holds_no_slot(tmp_path, ollama_url):
    rig = build_rig([OllamaProvider("ollama", ollama_url)], tmp_path / "ledger.db")
    await rig.registry.refresh()
    model = rig.registry.get(f"ollama/{SMOL}")
    held = await rig.runner.router.acquire(model)
    cancel = asyncio.Event()
    queued = asyncio.create_task(step(rig.runner, ctx(5, cancel, BACKGROUND), model))
    await asyncio.sleep(0.05)
    assert rig.runner.router.load().queued == 1
    cancel.set()
    with pytest.raises(Cancelled):
        await queued
    assert (rig.runner.router.load().in_flight, rig.runner.router.load().queued) == (1, 0)
    held.release()
    done = await step(rig.runner, ctx(6), model)
    assert done.completion is not None
    await rig.ledger.flush()
    rows = await rig.ledger.call_fn(lambda led: list(led.db["requests"].rows))
    assert [r["step_id"] for r in rows] == ["step_r6"]
    rig.ledger.close()
    await rig.registry.close()


async def test_the_engine_builds_its_router_from_the_config_file():
    from jarvis.app.config import parse_config
    from jarvis.app.engine import build_engine
    from jarvis.app.paths import resolve_paths

    text = "[router]\nqueue_size = 5\n[router.limits]\nollama = { per_model = 2 }\ngpubox = { total = 0 }\n"
    engine = build_engine(parse_config(text, "config.toml"), resolve_paths())
    try:
        assert engine.router is engine.runner.router and engine.router.queue_size == 5
        assert engine.router.limit_for(entry("ollama", "m")) == Limit(per_model=2, total=3)
        assert engine.router.limit_for(entry("gpubox", "m")) == Limit(per_model=2, total=0)
        assert engine.router.limit_for(entry("lmstudio", "m", kind="lmstudio")) == Limit(1, 1)
    finally:
        await engine.close()
