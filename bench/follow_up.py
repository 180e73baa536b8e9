"""What a follow-up turn costs before its request: reading the thread from the ledger and fitting it.

Run: .venv/bin/python -m bench.follow_up [--turns 20] [--answer-kb 3] [--window 4096] [--rounds 30]
A thread of `--turns` runs with `--answer-kb` answers is written to a temporary ledger; then the
median of building the next turn (chains.threads.continuation: lineage, answers, checks, files) and
of building one step's prompt with the history cut to `--window` (chains.prompts.build).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from jarvis.chains import prompts, threads
from jarvis.chains.ledger import Ledger
from jarvis.chains.specs import RoleSpec
from jarvis.providers.tokens import estimate_prompt_tokens


def median_ms(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=20)
    ap.add_argument("--answer-kb", type=int, default=3)
    ap.add_argument("--window", type=int, default=4096)
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Path(tmp) / "jarvis.db")
        answer = "x = 1\n" * (args.answer_kb * 1024 // 6)
        parent = None
        for i in range(args.turns):
            run_id = f"run_{i}"
            ledger.start_run(run_id, "chain", f"task {i}: " + "do this " * 20, "default", None, None)
            if parent:
                ledger.set_thread(run_id, "run_0", parent, i + 1)
            ledger.finish_run(run_id, "completed", result={"answer": answer})
            parent = run_id
        last = f"run_{args.turns - 1}"
        follow = threads.continuation(ledger, last)
        read = median_ms(lambda: threads.continuation(ledger, last), args.rounds)
        history, lead = follow.messages()
        role = RoleSpec(name="executor", system="Be brief.", prompt="{task}")

        def build():
            return prompts.build(
                role,
                {"task": "go on"},
                window=args.window,
                max_tokens=512,
                model_id="m",
                history=history,
                lead=lead,
            )

        fit = median_ms(build, args.rounds)
        built = build()
        ledger.close()
    tokens = estimate_prompt_tokens(history)
    notice = built.notices[0] if built.notices else "it fits whole"
    print(f"{args.turns} turns, {args.answer_kb} KB answers, {args.window}-token window")
    print(f"  continuation from the ledger: {read:.2f} ms (median of {args.rounds})")
    print(f"  prompt build with the history cut: {fit:.2f} ms; history ~{tokens} tokens")
    print(f"  → prompt ~{built.est_tokens} tokens + 512 for the answer; {notice}")


if __name__ == "__main__":
    main()
