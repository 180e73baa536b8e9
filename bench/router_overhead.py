"""What the router adds to each model request: acquire + release of a slot, uncontended (a free slot, a
second host as a peer) and contended (32 requests handing one slot to each other in priority order).

Run: .venv/bin/python -m bench.router_overhead [--rounds 5]
Prints the median over rounds of the per-request cost in microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from jarvis.chains.router import BACKGROUND, INTERACTIVE, Router
from jarvis.providers.registry import ModelEntry
from jarvis.providers.types import ModelInfo


def entry(provider: str) -> ModelEntry:
    return ModelEntry(
        info=ModelInfo(provider, "qwen2.5-coder:7b"),
        provider_kind="ollama",
        status="ok",
        capabilities=frozenset({"chat"}),
        context_length=4096,
        fits_memory=True,
        memory_needed=0,
        memory_note="",
    )


async def uncontended(n: int) -> float:
    router, a, b = Router(), entry("ollama"), entry("gpubox")
    t0 = time.perf_counter()
    for _ in range(n):
        (await router.acquire(a, peers=[b])).release()
    return (time.perf_counter() - t0) / n * 1e6


async def contended(batches: int, width: int = 32) -> float:
    router, a = Router(), entry("ollama")

    async def one(i: int) -> None:
        lease = await router.acquire(a, priority=INTERACTIVE if i % 4 == 0 else BACKGROUND)
        await asyncio.sleep(0)
        lease.release()

    t0 = time.perf_counter()
    for _ in range(batches):
        await asyncio.gather(*(one(i) for i in range(width)))
    return (time.perf_counter() - t0) / (batches * width) * 1e6


async def main(rounds: int) -> None:
    free = [await uncontended(20_000) for _ in range(rounds)]
    busy = [await contended(60) for _ in range(rounds)]
    print(f"uncontended acquire+release: {statistics.median(free):.1f} us per request")
    print(f"contended (32 waiting for one slot, hand-off included): {statistics.median(busy):.1f} us each")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args().rounds))
