"""Gateway overhead of `jarvis serve`: a client → jarvis serve → a zero-latency loopback SSE upstream
(bench/sse_server.py) vs the client straight to the upstream, interleaved in one run. TTFT (first content
chunk) and total (to `[DONE]`) at concurrency 1 and 8, the added latency at p50 and p99; then open-loop
load at rising request rates: the highest rate at which p99 added latency stays under 10 ms.

`jarvis serve` runs as its own process (as a user runs it), with its ledger in a temporary home: every
served request goes through selection, the step runner and the ledger exactly as in use.

Run: .venv/bin/python -m bench.serve_overhead [--rounds 200] [--tokens 16] [--rates 25 50 100 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from bench import sse_server
from bench.stats import pct
from tests.conftest import free_port

BODY = {"messages": [{"role": "user", "content": "Say hello."}], "stream": True, "max_tokens": 16}


def start_jarvis(upstream: str, home: Path) -> tuple[subprocess.Popen, str]:
    (home / "config.toml").write_text(
        "[ollama]\nenabled = false\n[lmstudio]\nenabled = false\n[embedded]\nenabled = false\n"
        f'[[openai_endpoints]]\nname = "up"\nurl = "{upstream}"\n'
    )
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jarvis.app.cli", "serve", "--port", str(port)],
        env={**os.environ, "JARVIS_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # the ready line
    return proc, f"http://127.0.0.1:{port}"


async def one(client: httpx.AsyncClient, url: str, model: str) -> tuple[float, float]:
    """(TTFT, total) in seconds for one streamed chat completion."""
    t0 = time.perf_counter()
    first = None
    async with client.stream("POST", url + "/v1/chat/completions", json={**BODY, "model": model}) as resp:
        resp.raise_for_status()
        async for line in resp.aiter_lines():
            if first is None and '"content"' in line and '"content":""' not in line:
                first = time.perf_counter() - t0
            # Read to the end (no break at [DONE]): an unread rest would close the kept-alive connection.
    total = time.perf_counter() - t0
    return (first if first is not None else total), total


async def closed_loop(
    client: httpx.AsyncClient, paths: dict[str, tuple[str, str]], rounds: int, concurrency: int
) -> dict[str, list[tuple[float, float]]]:
    """Each worker alternates the paths (which goes first alternates too), so both see the same load."""
    out: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
    names = list(paths)

    async def worker(w: int) -> None:
        for r in range(rounds // concurrency):
            order = names if (r + w) % 2 == 0 else names[::-1]
            for name in order:
                out[name].append(await one(client, *paths[name]))

    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return out


async def open_loop(
    client: httpx.AsyncClient, paths: dict[str, tuple[str, str]], rate: float, seconds: float
) -> dict[str, list[float]]:
    """Requests started every 1/rate s per path (interleaved), whatever the answers' pace: totals."""
    out: dict[str, list[float]] = {name: [] for name in paths}
    tasks = []
    start = time.perf_counter()
    n = int(rate * seconds)

    async def timed(name: str) -> None:
        out[name].append((await one(client, *paths[name]))[1])

    for i in range(n):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        for name in paths if i % 2 == 0 else list(paths)[::-1]:
            tasks.append(asyncio.create_task(timed(name)))
    await asyncio.gather(*tasks)
    return out


def ms(v: float) -> str:
    return f"{v * 1000:.2f}"


async def run(args: argparse.Namespace) -> None:
    up_proc, upstream = sse_server.start(args.tokens)
    with tempfile.TemporaryDirectory() as tmp:
        jarvis_proc, gateway = start_jarvis(upstream, Path(tmp))
        paths = {"direct": (upstream, "bench"), "jarvis": (gateway, "up/bench")}
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        try:
            async with httpx.AsyncClient(timeout=30, limits=limits) as client:
                await closed_loop(client, paths, 40, 4)  # warm-up: connections, first-request paths
                print("| concurrency | path | TTFT p50 | TTFT p99 | total p50 | total p99 | n |")
                print("|---|---|---|---|---|---|---|")
                added = []
                server = psutil.Process(jarvis_proc.pid)
                cpu: dict[int, float] = {}
                for conc in (1, 8):
                    before = sum(server.cpu_times()[:2])
                    res = await closed_loop(client, paths, args.rounds, conc)
                    cpu[conc] = (sum(server.cpu_times()[:2]) - before) / len(res["jarvis"])
                    for name, pairs in res.items():
                        ttft = [p[0] for p in pairs]
                        tot = [p[1] for p in pairs]
                        print(
                            f"| {conc} | {name} | {ms(pct(ttft, 0.5))} | {ms(pct(ttft, 0.99))} | "
                            f"{ms(pct(tot, 0.5))} | {ms(pct(tot, 0.99))} | {len(pairs)} |"
                        )
                    d = {k: [p[1] for p in v] for k, v in res.items()}
                    t = {k: [p[0] for p in v] for k, v in res.items()}
                    added.append(
                        (
                            conc,
                            pct(t["jarvis"], 0.5) - pct(t["direct"], 0.5),
                            pct(t["jarvis"], 0.99) - pct(t["direct"], 0.99),
                            pct(d["jarvis"], 0.5) - pct(d["direct"], 0.5),
                            pct(d["jarvis"], 0.99) - pct(d["direct"], 0.99),
                        )
                    )
                print()
                print("| concurrency | added TTFT p50 | added TTFT p99 | added total p50 | added total p99 |")
                print("|---|---|---|---|---|")
                for conc, a, b, c, e in added:
                    print(f"| {conc} | {ms(a)} ms | {ms(b)} ms | {ms(c)} ms | {ms(e)} ms |")
                print()
                per = ", ".join(f"{ms(v)} ms at concurrency {k}" for k, v in cpu.items())
                print(f"jarvis serve's CPU time per request (its process, all threads): {per}")
                print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
                print()
                print("| rate (req/s per path) | direct total p99 | jarvis total p99 | added p99 |")
                print("|---|---|---|---|")
                best = None
                for rate in args.rates:
                    res = await open_loop(client, paths, rate, args.seconds)
                    p_direct, p_jarvis = pct(res["direct"], 0.99), pct(res["jarvis"], 0.99)
                    extra = p_jarvis - p_direct
                    print(f"| {rate:g} | {ms(p_direct)} ms | {ms(p_jarvis)} ms | {ms(extra)} ms |")
                    if extra < 0.010:
                        best = rate
                    else:
                        break
                print()
                print(f"highest rate with p99 added < 10 ms: {best if best is not None else 'none'} req/s")
        finally:
            jarvis_proc.send_signal(signal.SIGINT)
            jarvis_proc.wait(20)
            up_proc.terminate()
            up_proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=200, help="requests per path at each concurrency")
    parser.add_argument("--tokens", type=int, default=16, help="content chunks per upstream answer")
    parser.add_argument("--rates", type=float, nargs="+", default=[25, 50, 100, 200, 400])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds at each rate")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
