"""What the repo map for `--dir` costs: collecting the folder, the map cold (every file parsed) and warm
(outlines from the cache), and its size in tokens.

    .venv/bin/python bench/repomap_cost.py [DIR] [--budget 1024] [--task "..."]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from jarvis.chains.context.collect import collect
from jarvis.chains.context.repomap import build_repo_map


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", nargs="?", default=".")
    ap.add_argument("--budget", type=int, default=1024)
    ap.add_argument("--task", default="add a --verbose flag to the run command in run_commands.py")
    args = ap.parse_args()
    t0 = time.perf_counter()
    got = collect(dirs=[args.dir])
    t_collect = time.perf_counter() - t0
    readable = [a for a in got.attachments if a.status != "left_out"]
    pairs = [(a.rel_path, a.abs_path) for a in readable]
    texts = {a.rel_path: a.text for a in readable}
    with tempfile.TemporaryDirectory() as cache:
        runs = []
        for label in ("cold", "warm"):
            t = time.perf_counter()
            m = build_repo_map(got.root, pairs, task=args.task, budget=args.budget, cache_dir=Path(cache),
                               texts=texts)  # fmt: skip
            runs.append((label, time.perf_counter() - t, m))
    whole = sum(a.tokens for a in readable)
    print(f"{args.dir}: {len(got.attachments)} files ({len(readable)} text, ~{whole:,} tokens whole);"
          f" collected in {t_collect * 1000:.0f} ms")  # fmt: skip
    for label, secs, m in runs:
        print(f"  map {label}: {secs * 1000:.0f} ms, {m.tokens} tokens (budget {args.budget}),"
              f" {len(m.shown)} files outlined, parsed {m.parsed}, from cache {m.cache_hits}")  # fmt: skip


if __name__ == "__main__":
    main()
