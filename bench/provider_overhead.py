"""Provider-layer overhead: TTFT and total time through our provider vs a direct httpx call vs
litellm.acompletion, to the same loopback server, interleaved in one run.

Run: .venv/bin/python -m bench.provider_overhead [--rounds 40] [--real]
  --real also measures against llama-cpp-python's OpenAI-compatible server with SmolLM2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import httpx

from bench import sse_server
from bench.stats import summary_ms
from jarvis.providers.cloud import load_litellm
from jarvis.providers.openai_compat import OpenAICompatProvider
from jarvis.providers.types import Delta, GenerationOptions, Message
from tests.conftest import run_server

MESSAGES = [Message("user", "Say hello.")]
OPTIONS = GenerationOptions(max_tokens=8, temperature=0)


async def direct_httpx(client: httpx.AsyncClient, model: str) -> tuple[float, float]:
    body = {
        "model": model,
        "messages": [m.as_dict() for m in MESSAGES],
        "stream": True,
        "max_tokens": 8,
        "temperature": 0,
    }
    t0 = time.perf_counter()
    first = None
    async with client.stream("POST", "/v1/chat/completions", json=body) as resp:
        async for line in resp.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            chunk = json.loads(data)
            for choice in chunk.get("choices") or ():
                if (choice.get("delta") or {}).get("content") and first is None:
                    first = time.perf_counter()
    return first - t0, time.perf_counter() - t0


async def ours(provider: OpenAICompatProvider, model: str) -> tuple[float, float]:
    t0 = time.perf_counter()
    first = None
    async for chunk in provider.stream_chat(model, MESSAGES, OPTIONS):
        if isinstance(chunk, Delta) and first is None:
            first = time.perf_counter()
    return first - t0, time.perf_counter() - t0


async def via_litellm(litellm, base: str, model: str) -> tuple[float, float]:
    t0 = time.perf_counter()
    first = None
    resp = await litellm.acompletion(
        model=f"openai/{model}",
        api_base=base + "/v1",
        api_key="x",
        messages=[m.as_dict() for m in MESSAGES],
        stream=True,
        max_tokens=8,
        temperature=0,
        num_retries=0,
    )
    async for chunk in resp:
        if chunk.choices and chunk.choices[0].delta.content and first is None:
            first = time.perf_counter()
    return first - t0, time.perf_counter() - t0


async def measure(base: str, model: str, rounds: int) -> dict:
    litellm = load_litellm()
    client = httpx.AsyncClient(base_url=base, timeout=60)
    provider = OpenAICompatProvider("bench", base)
    contenders = {
        "direct httpx": lambda: direct_httpx(client, model),
        "jarvis provider": lambda: ours(provider, model),
        "litellm.acompletion": lambda: via_litellm(litellm, base, model),
    }
    for fn in contenders.values():  # warm-up: connections, imports, caches
        for _ in range(3):
            await fn()
    ttft = {k: [] for k in contenders}
    total = {k: [] for k in contenders}
    names = list(contenders)
    for r in range(rounds):
        # Interleaved, and rotated each round: litellm leaves background work (logging
        # workers) running after each call, which slowed whichever request came next by
        # ~2 ms. The idle gap lets it finish, so each request is timed on a quiet loop.
        for name in names[r % len(names) :] + names[: r % len(names)]:
            await asyncio.sleep(0.03)
            a, b = await contenders[name]()
            ttft[name].append(a)
            total[name].append(b)
    await client.aclose()
    await provider.close()
    base_ttft = statistics.median(ttft["direct httpx"])
    out = {}
    for name in contenders:
        med = statistics.median(ttft[name])
        out[name] = {
            "ttft": summary_ms(ttft[name]),
            "total": summary_ms(total[name]),
            "ttft_added_p50_ms": round((med - base_ttft) * 1000, 3),
        }
    return out


def report(title: str, results: dict) -> None:
    print(f"\n### {title}\n")
    print("| client | TTFT | total | TTFT added at p50 vs direct httpx |")
    print("|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['ttft']} | {r['total']} | {r['ttft_added_p50_ms']:+.2f} ms |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--real", action="store_true")
    args = parser.parse_args()
    proc, base = sse_server.start(8)
    try:
        report(
            "Zero-latency loopback SSE server (8 tokens): pure client overhead",
            asyncio.run(measure(base, "bench", args.rounds)),
        )
    finally:
        proc.terminate()
    if args.real:
        with run_server("tests.servers.openai_server", "/v1/models") as url:
            report(
                "llama-cpp-python OpenAI-compatible server, SmolLM2-135M, max_tokens 8",
                asyncio.run(measure(url, "smollm2-135m-instruct", max(args.rounds // 2, 30))),
            )


if __name__ == "__main__":
    main()
