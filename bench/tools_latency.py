"""Tool-call latency through `jarvis serve`: the same streamed request with `tools` (the upstream answers
with one call, its arguments in 4-character pieces, as OpenAI streams them) to a zero-latency loopback
OpenAI-compatible server directly and through `jarvis serve` on both faces (`/v1/chat/completions`,
`/api/chat`), interleaved in one run. Time to the first tool-call piece and total, p50 and p95, and what
the gateway adds at p50: selection, step runner, ledger, joining the pieces into a whole call and
re-encoding it (jarvis sends a call whole, at the end, so its first piece is its last).

Run: .venv/bin/python -m bench.tools_latency [--rounds 50]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench.serve_overhead import serve
from bench.stats import pct
from tests.conftest import run_server

MODEL = "toolbox-1"
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
ASK = [{"role": "user", "content": "Use get_weather for Lisbon"}]


def start_jarvis(upstream: str, home: Path) -> tuple[subprocess.Popen, str]:
    (home / "config.toml").write_text(
        "[ollama]\nenabled = false\n[lmstudio]\nenabled = false\n[embedded]\nenabled = false\n"
        f'[[openai_endpoints]]\nname = "box"\nurl = "{upstream}"\n'
        f'[[custom_models]]\nid = "box/{MODEL}"\ncapabilities = ["function_calling"]\n'
    )
    return serve(home)


async def timed(client: httpx.AsyncClient, url: str, body: dict) -> tuple[float, float]:
    """(first line with a tool call, total) in seconds."""
    t0 = time.perf_counter()
    first = None
    async with client.stream("POST", url, json=body) as resp:
        resp.raise_for_status()
        async for line in resp.aiter_lines():
            if first is None and '"tool_calls"' in line and '"tool_calls": null' not in line:
                first = time.perf_counter() - t0
    total = time.perf_counter() - t0
    if first is None:
        raise SystemExit(f"{url} answered without a tool call.")
    return first, total


async def run(rounds: int) -> None:
    with (
        run_server("tests.servers.openai_sse_tools", "/v1/models") as up,
        tempfile.TemporaryDirectory() as home,
    ):
        proc, jarvis = start_jarvis(up, Path(home))
        try:
            openai_body = {"messages": ASK, "tools": [TOOL], "stream": True}
            paths = {
                "direct /v1/chat/completions": (up + "/v1/chat/completions", {**openai_body, "model": MODEL}),
                "jarvis /v1/chat/completions": (
                    jarvis + "/v1/chat/completions",
                    {**openai_body, "model": f"box/{MODEL}"},
                ),
                "jarvis /api/chat": (jarvis + "/api/chat", {**openai_body, "model": f"box/{MODEL}"}),
            }
            results: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
            async with httpx.AsyncClient(timeout=60) as client:
                for url, body in paths.values():  # warm: connections, first-request imports
                    await timed(client, url, body)
                for _ in range(rounds):
                    for name, (url, body) in paths.items():
                        results[name].append(await timed(client, url, body))
        finally:
            proc.terminate()
            proc.wait(10)
    base = pct([r[1] * 1000 for r in results["direct /v1/chat/completions"]], 0.5)
    print(f"One streamed tool call, {rounds} interleaved rounds (ms)")
    print(
        f"{'path':28} {'call p50':>9} {'call p95':>9} {'total p50':>10} {'total p95':>10} {'added p50':>10}"
    )
    for name, rows in results.items():
        call = [r[0] * 1000 for r in rows]
        total = [r[1] * 1000 for r in rows]
        print(
            f"{name:28} {pct(call, 0.5):9.1f} {pct(call, 0.95):9.1f} {pct(total, 0.5):10.1f}"
            f" {pct(total, 0.95):10.1f} {pct(total, 0.5) - base:10.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    asyncio.run(run(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
