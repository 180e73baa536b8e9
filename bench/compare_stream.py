"""Four Compare panes fed by a synthetic 500 tokens/s stream each (2,000 tokens/s in all) for 20 s.

Measures event-loop lag with a 10 ms ticker while the panes stream, checks no token is lost and
that each pane's final text is identical to its source. Each round is a fresh process; rounds
alternate between the garbage-collector settings `jarvis` applies after startup
(app/tui/gc_policy.py) and Python's defaults, so the two are compared in one run.
Run: .venv/bin/python -m bench.compare_stream [--seconds 20] [--rate 500] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from bench.stats import pct
from jarvis.app.config import Config
from jarvis.app.engine import build_engine
from jarvis.app.paths import resolve_paths
from jarvis.app.tui.compare_view import CompareView
from jarvis.app.tui.workbench import WorkbenchApp
from jarvis.providers.base import Provider
from jarvis.providers.timing import StreamClock
from jarvis.providers.types import Delta, GenerationOptions, Message, ModelInfo, StreamChunk

WORDS = ("alpha", "beta", "gamma", "delta", "lambda", "kernel", "tensor", "vector", "stream", "token")


def source_tokens(seed: int, n: int) -> list[str]:
    out = []
    for i in range(n):
        word = WORDS[(i * 7 + seed) % len(WORDS)]
        out.append(("\n" if i % 17 == 16 else " ") + f"{word}{i}")
    return out


class SyntheticProvider(Provider):
    """Emits a known token sequence at a fixed rate, paced by the clock (no model: it measures the UI)."""

    kind = "synthetic"

    def __init__(self, name: str, seed: int, rate: float, seconds: float) -> None:
        super().__init__(name)
        self.tokens = source_tokens(seed, int(rate * seconds))
        self.rate = rate

    async def list_models(self) -> list[ModelInfo]:
        return [
            ModelInfo(
                provider=self.name,
                name="stream",
                context_length=8192,
                capabilities=frozenset({"chat", "completion"}),
                local=False,
            )
        ]

    async def stream_chat(
        self, model: str, messages: Sequence[Message], options: GenerationOptions | None = None
    ) -> AsyncIterator[StreamChunk]:
        clock = StreamClock()
        start = time.perf_counter()
        sent = 0
        while sent < len(self.tokens):
            await asyncio.sleep(0.01)
            due = min(len(self.tokens), int((time.perf_counter() - start) * self.rate))
            while sent < due:
                clock.mark(self.tokens[sent])
                yield Delta(self.tokens[sent])
                sent += 1
        yield clock.finish(
            provider=self.name, model=model, prompt_tokens=5, completion_tokens=sent, finish_reason="stop"
        )


async def one_round(seconds: float, rate: float, gc_policy: bool) -> dict:
    home = Path(tempfile.mkdtemp())
    providers = [SyntheticProvider(f"synth{i}", i, rate, seconds) for i in range(4)]
    # The engine `jarvis` builds, with the synthetic providers as its only ones.
    config = Config.model_validate(
        {"embedded": {"enabled": False}, "ollama": {"enabled": False}, "lmstudio": {"enabled": False}}
    )

    async def factory():
        engine = build_engine(config, resolve_paths({"JARVIS_HOME": str(home)}))
        for provider in providers:
            engine.registry.add_provider(provider)
        return await engine.start()

    app = WorkbenchApp(factory)
    lags: list[float] = []
    async with app.run_test(size=(200, 50)) as pilot:
        while app.engine is None:
            await pilot.pause(0.05)
        if gc_policy:  # what the launcher does once the engine is up
            from jarvis.app.tui.gc_policy import settle_after_startup

            settle_after_startup()
        await pilot.press("f3")
        view = app.query_one(CompareView)
        models = [f"synth{i}/stream" for i in range(4)]
        last = time.perf_counter()

        def tick() -> None:
            nonlocal last
            now = time.perf_counter()
            lags.append(max(0.0, now - last - 0.01))
            last = now

        ticker = app.set_interval(0.01, tick)
        started = time.perf_counter()
        view.start("Stream, please.", models)
        while not all(p.status != "running" for p in view.panes.values()) or len(view.panes) < 4:
            await pilot.pause(0.05)
        streaming_lags = list(lags)
        elapsed = time.perf_counter() - started
        while not view.query("#votes Button"):
            await pilot.pause(0.05)
        ticker.stop()
        panes = list(view.panes.values())
        ok = []
        for pane, provider in zip(panes, providers, strict=True):
            expected = "".join(provider.tokens)
            ok.append(pane.stream.text == expected)
        tokens = sum(len(p.tokens) for p in providers)
    return {
        "elapsed": elapsed,
        "tokens": tokens,
        "ok": sum(ok),
        "p50": statistics.median(streaming_lags),
        "p99": pct(streaming_lags, 0.99),
        "max": max(streaming_lags),
        "p99_all": pct(lags, 0.99),
    }


def main(seconds: float, rate: float, rounds: int) -> None:
    results: dict[str, list[dict]] = {"launcher": [], "default": []}
    for i in range(rounds):
        for setting in ("launcher", "default") if i % 2 == 0 else ("default", "launcher"):
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.compare_stream",
                    "--one",
                    setting,
                    "--seconds",
                    str(seconds),
                    "--rate",
                    str(rate),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            results[setting].append(json.loads(out.stdout.strip().splitlines()[-1]))
    first = results["launcher"][0]
    print(
        f"4 panes x {rate:.0f} tokens/s for {seconds:.0f} s ({first['tokens']:,} tokens in all), "
        f"{rounds} fresh process(es) per setting, medians over rounds"
    )

    def med(setting: str, key: str, scale: float = 1000) -> str:
        return f"{statistics.median(r[key] for r in results[setting]) * scale:.1f}"

    print("| measurement | jarvis GC settings | Python defaults |")
    print("|---|---|---|")
    print(f"| streamed in (s) | {med('launcher', 'elapsed', 1)} | {med('default', 'elapsed', 1)} |")
    print(
        f"| event-loop lag while streaming, p50 (ms) | {med('launcher', 'p50')} | {med('default', 'p50')} |"
    )
    print(
        f"| event-loop lag while streaming, p99 (ms, target ≤ 50) | {med('launcher', 'p99')} | "
        f"{med('default', 'p99')} |"
    )
    print(
        f"| event-loop lag while streaming, max (ms) | {med('launcher', 'max')} | {med('default', 'max')} |"
    )
    print(
        f"| lag p99 including the finish (panes become Markdown) (ms) | {med('launcher', 'p99_all')} | "
        f"{med('default', 'p99_all')} |"
    )
    print(
        f"| panes whose final text equals the source | "
        f"{min(r['ok'] for r in results['launcher'])}/4 | {min(r['ok'] for r in results['default'])}/4 |"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--one", choices=("launcher", "default"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(asyncio.run(one_round(args.seconds, args.rate, args.one == "launcher"))))
    else:
        main(args.seconds, args.rate, args.rounds)
