"""Embedded throughput: tokens/s through EmbeddedProvider vs raw llama-cpp-python, same model, prompt
and seed, interleaved.

Run: .venv/bin/python -m bench.embedded_throughput [--rounds 8] [--tokens 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from jarvis.providers import gguf
from jarvis.providers.embedded import DEFAULT_MODEL_NAME, EmbeddedProvider
from jarvis.providers.types import Completion, Delta, GenerationOptions, Message

PROMPT = "Write a Python module with a class that implements a bounded LRU cache, with docstrings and tests."


def raw(llm, tokens: int) -> tuple[int, float]:
    """Decode rate the way our provider measures it: pieces after the first, over the time after the first."""
    first = last = None
    n = 0
    for chunk in llm.create_chat_completion(
        messages=[{"role": "user", "content": PROMPT}], stream=True, max_tokens=tokens, temperature=0, seed=7
    ):
        if chunk["choices"][0]["delta"].get("content"):
            now = time.perf_counter()
            first = first or now
            last = now
            n += 1
    return n, (n - 1) / (last - first)


async def ours(provider: EmbeddedProvider, tokens: int) -> tuple[int, float]:
    opts = GenerationOptions(max_tokens=tokens, temperature=0, seed=7)
    async for chunk in provider.stream_chat(DEFAULT_MODEL_NAME, [Message("user", PROMPT)], opts):
        if isinstance(chunk, Completion):
            return chunk.completion_tokens, chunk.tokens_per_s
        assert isinstance(chunk, Delta)
    raise RuntimeError("no final record")


async def main(rounds: int, tokens: int) -> None:
    from llama_cpp import Llama

    provider = EmbeddedProvider(n_ctx=4096)
    llm = Llama(
        model_path=str(gguf.default_model_path()), n_ctx=4096, n_threads=provider.n_threads, verbose=False
    )
    raw(llm, 16)
    await ours(provider, 16)
    r_rates, o_rates, counts = [], [], set()
    for i in range(rounds):
        order = ("raw", "ours") if i % 2 == 0 else ("ours", "raw")
        for who in order:
            if who == "raw":
                n, rate = raw(llm, tokens)
                r_rates.append(rate)
            else:
                n, rate = await ours(provider, tokens)
                o_rates.append(rate)
            counts.add(n)
    await provider.close()
    r, o = statistics.median(r_rates), statistics.median(o_rates)
    print(f"tokens per answer: {sorted(counts)}; threads: {provider.n_threads}; rounds: {rounds}")
    print("| path | tokens/s p50 | min | max |")
    print("|---|---|---|---|")
    print(f"| raw llama-cpp-python | {r:.1f} | {min(r_rates):.1f} | {max(r_rates):.1f} |")
    print(f"| EmbeddedProvider | {o:.1f} | {min(o_rates):.1f} | {max(o_rates):.1f} |")
    print(f"ratio (ours / raw, medians): {o / r:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.tokens))
