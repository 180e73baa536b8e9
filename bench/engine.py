"""Engine benchmarks: orchestrator overhead, selection among 500 models, ledger throughput, Bradley-Terry.

Run: .venv/bin/python -m bench.engine [--rounds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import tempfile
import time
from pathlib import Path

from bench import sse_server
from bench.stats import pct
from jarvis.chains.bus import EventBus
from jarvis.chains.events import TokenDelta
from jarvis.chains.fallback import CircuitBreaker, FallbackPolicy
from jarvis.chains.leaderboard import bradley_terry
from jarvis.chains.ledger import Ledger
from jarvis.chains.ledger_async import AsyncLedger
from jarvis.chains.orchestrator import ModelOrchestrator
from jarvis.chains.run_options import RunOptions
from jarvis.chains.scores import PerformanceMonitor
from jarvis.chains.selection import ModelStats, Request, SelectionEngine
from jarvis.chains.specs import ChainLibrary
from jarvis.chains.step_runner import StepRunner
from jarvis.providers.catalog import Catalog
from jarvis.providers.openai_compat import OpenAICompatProvider
from jarvis.providers.registry import ModelEntry, ModelRegistry
from jarvis.providers.types import Delta, Message, ModelInfo


def ms(v: float) -> str:
    return f"{v * 1000:.3f} ms"


async def orchestrator_overhead(rounds: int) -> None:
    server, base = sse_server.start(8)
    tmp = Path(tempfile.mkdtemp())
    provider = OpenAICompatProvider("bench", base)
    registry = ModelRegistry([provider], catalog=Catalog.shipped())
    await registry.refresh()
    ledger = AsyncLedger(tmp / "bench.db")
    runner = StepRunner(
        registry,
        ledger,
        EventBus(),
        policy=FallbackPolicy(),
        breaker=CircuitBreaker(),
        guard=registry.guard,
        use_cache=False,
    )
    selector = SelectionEngine(
        lambda: registry.models, generation=lambda: registry.generation, cooling=runner.cooling
    )
    orch = ModelOrchestrator(
        registry,
        ledger,
        selector,
        runner,
        chains=ChainLibrary.load(),
        stats=lambda led, t: PerformanceMonitor(led).snapshot(t),
    )
    task = "Write a Python function that reverses a string."
    spec = orch.chains.get("default").roles[0]
    messages = [Message("system", spec.system), Message("user", task)]
    options = spec.options

    async def bare() -> float:
        t0 = time.perf_counter()
        first = None
        async for chunk in provider.stream_chat("bench", messages, options):
            if first is None and isinstance(chunk, Delta):
                first = time.perf_counter() - t0
        return first

    async def orchestrated() -> float:
        t0 = time.perf_counter()
        first = None
        async for event in orch.run(task, RunOptions()):
            if first is None and isinstance(event, TokenDelta):
                first = time.perf_counter() - t0
        return first

    for _ in range(5):
        await bare()
        await orchestrated()
    results = {"bare provider": [], "ModelOrchestrator (default chain)": []}
    for r in range(rounds):
        pair = [("bare provider", bare), ("ModelOrchestrator (default chain)", orchestrated)]
        for name, fn in pair if r % 2 == 0 else pair[::-1]:
            await asyncio.sleep(0.02)
            results[name].append(await fn())
    await ledger.flush()
    ledger.close()
    await provider.close()
    server.terminate()
    print(
        f"\n### Orchestrator overhead: TTFT, zero-latency loopback SSE server, {rounds} interleaved rounds\n"
    )
    print("| path | TTFT p50 | TTFT p95 |")
    print("|---|---|---|")
    for name, values in results.items():
        print(f"| {name} | {ms(statistics.median(values))} | {ms(pct(values, 0.95))} |")
    added = statistics.median(results["ModelOrchestrator (default chain)"]) - statistics.median(
        results["bare provider"]
    )
    print(
        f"\nadded at p50: {added * 1000:+.3f} ms (target ≤ 1 ms). The orchestrated path includes task"
        " analysis, selection, prompt building and the ledger writes for the run, step and request."
    )


def selection_speed() -> None:
    rng = random.Random(0)
    models = []
    stats = {}
    for i in range(500):
        info = ModelInfo(
            provider=f"p{i % 9}",
            name=f"model-{i}",
            context_length=rng.choice([2048, 8192, 32768]),
            capabilities=frozenset({"chat", "completion"} | ({"code"} if i % 3 == 0 else set())),
        )
        entry = ModelEntry(info, "ollama", "available", info.capabilities, info.context_length, True, 0, "")
        models.append(entry)
        stats[entry.id] = ModelStats(
            requests=rng.randint(0, 200),
            successes=rng.randint(0, 200),
            tokens_per_s_p50=rng.uniform(5, 150),
            ttft_p50=rng.uniform(0.05, 2),
            rating_mean=rng.uniform(1, 5),
            ratings=rng.randint(0, 40),
        )
    engine = SelectionEngine(lambda: models, generation=lambda: 0)  # a fixed list: one generation
    req = Request(
        "code_generation",
        language="python",
        role="executor",
        capabilities=("code",),
        prompt_tokens=1500,
        max_tokens=512,
    )
    for _ in range(50):
        engine.select(req, stats)
    times = []
    for _ in range(500):
        t0 = time.perf_counter()
        engine.select(req, stats)
        times.append(time.perf_counter() - t0)
    print("\n### Selection among 500 registered models (filters + balanced score + fallbacks), 500 calls\n")
    print(f"p50 {ms(statistics.median(times))}, p95 {ms(pct(times, 0.95))} (target ≤ 1 ms)")


def ledger_speed() -> None:
    tmp = Path(tempfile.mkdtemp())
    ledger = Ledger(tmp / "bench.db")
    row = {
        "run_id": "run_x",
        "step_id": "step_x",
        "model_id": "ollama/qwen2.5-coder:7b",
        "provider": "ollama",
        "task_type": "code_generation",
        "role": "executor",
        "prompt_tokens": 120,
        "completion_tokens": 300,
        "ttft_s": 0.21,
        "tokens_per_s": 42.0,
        "latency_s": 7.3,
        "cost_usd": 0.0,
        "status": "ok",
    }
    n = 5000
    t0 = time.perf_counter()
    for _ in range(n):
        # One transaction (one commit) per row with its event row, as a live run writes them (before the
        # typed seams the event row was a second transaction, written by an app-side bus subscriber).
        ledger.record_request(row)
    single = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    ledger.record_requests([row] * n)
    batch = n / (time.perf_counter() - t0)
    ledger.close()

    async def via_async() -> float:
        aled = AsyncLedger(tmp / "bench2.db")
        gc.collect()  # the cost of a submit, not of a collection of start-up garbage that falls due here
        t0 = time.perf_counter()
        for _ in range(n):
            aled.record_request(row)
        submit_s = time.perf_counter() - t0
        await aled.flush()
        total = time.perf_counter() - t0
        aled.close()
        return n / total, submit_s / n

    async_rate, submit_cost = asyncio.run(via_async())
    print("\n### Ledger: request rows per second (WAL, synchronous=NORMAL, on disk)\n")
    print("| how | rows/s |")
    print("|---|---|")
    print(f"| one commit per row and its event (`record_request`) | {single:,.0f} |")
    print(f"| through AsyncLedger from the event loop (one commit per row) | {async_rate:,.0f} |")
    print(f"| batched (`record_requests`) | {batch:,.0f} |")
    print(f"\nevent-loop cost of one `submit`: {submit_cost * 1e6:.1f} µs (target ≥ 2,000 rows/s)")


def bradley_terry_speed() -> None:
    rng = random.Random(1)
    models = [f"m{i:02d}" for i in range(20)]
    strength = {m: 1.2**i for i, m in enumerate(models)}
    votes = []
    for _ in range(10_000):
        a, b = rng.sample(models, 2)
        r = rng.random()
        if r < 0.1:
            votes.append((a, b, "tie"))
        else:  # the second draw only when it is not a tie, as before: the same votes as earlier runs
            votes.append((a, b, "A" if rng.random() < strength[a] / (strength[a] + strength[b]) else "B"))
    times = []
    for seed in range(3):
        t0 = time.perf_counter()
        standings = bradley_terry(votes, rounds=1000, seed=seed)
        times.append(time.perf_counter() - t0)
    truth = sorted(models, key=lambda m: -strength[m])
    rank_ok = sum(1 for s, m in zip(standings, truth, strict=False) if s.model == m)
    print("\n### Bradley-Terry + 1,000-round bootstrap, 10,000 votes among 20 models (3 runs)\n")
    print(
        f"median {statistics.median(times):.3f} s, max {max(times):.3f} s (target ≤ 2 s);"
        f" {rank_ok}/20 models in their true rank"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    asyncio.run(orchestrator_overhead(args.rounds))
    selection_speed()
    ledger_speed()
    bradley_terry_speed()
