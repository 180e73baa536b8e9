"""Memory estimate vs reality: predicted vs measured peak RSS of a `jarvis run` process per embedded model.

Run: .venv/bin/python -m bench.memory_fit [--ctx 2048 4096 8192] [--full-window]
Each (model, n_ctx) runs `jarvis run` once in a fresh JARVIS_HOME with a short prompt, sampling
the RSS of the process and its children every 50 ms. "predicted" is the resource guard's
estimate for that run (the tokens it uses); "worst case" is what admission checks (the whole
window filled). --full-window adds a run whose prompt fills ~85 % of the window (SmolLM2 only:
prefilling 7,000 tokens through Qwen takes minutes on 2 cores), to show the worst case holds.
Models: the bundled SmolLM2-135M, and Qwen2.5-Coder-1.5B Q4_K_M when
~/.cache/jarvis-models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf exists
(/work/shared/models/qwen-coder-1.5b.sh assembles it). One model process at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from jarvis.providers import gguf
from jarvis.providers.embedded import EmbeddedProvider
from jarvis.providers.resources import MiB, ResourceGuard
from tests.conftest import dead_url

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent
QWEN = Path.home() / ".cache/jarvis-models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
SHORT_PROMPT = "Write a Python function that returns the larger of two numbers."
MAX_TOKENS = 48
#: Chat template, system prompt and the chain's instructions around the task, in tokens (generous).
CHAIN_OVERHEAD_TOKENS = 200


@dataclass(frozen=True)
class Row:
    model: str
    n_ctx: int
    prompt: str
    predicted: int
    worst: int
    measured: int

    @property
    def error(self) -> float:
        return self.predicted / self.measured - 1


def peak_rss(cmd: list[str], env: dict[str, str], stdin: Path) -> int:
    """Peak RSS of the process tree, sampled every 50 ms until it exits."""
    with stdin.open("rb") as given:
        proc = subprocess.Popen(cmd, env=env, stdin=given, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        root = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            try:
                procs = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in procs))
            except psutil.NoSuchProcess:
                pass  # it exited between poll and sampling; the last sample stands
            time.sleep(0.05)
        err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} … failed ({proc.returncode}): {err[-500:]}")
    return peak


def home_for(name: str, path: Path, n_ctx: int) -> str:
    home = tempfile.mkdtemp(prefix="jarvis-memfit-")
    extra = "" if name == "smollm2-135m" else f'models = {{ "{name}" = "{path}" }}\n'
    Path(home, "config.toml").write_text(
        f'[ollama]\nhosts = [{{name = "ollama", url = "{dead_url()}"}}]\n[lmstudio]\nurl = "{dead_url()}"\n'
        f"[embedded]\nn_ctx = {n_ctx}\n{extra}"
    )
    return home


def predict(name: str, path: Path, n_ctx: int, tokens: int, guard: ResourceGuard) -> tuple[int, int]:
    models = {} if name == "smollm2-135m" else {name: path}
    provider = EmbeddedProvider(models=models, n_ctx=n_ctx)
    info = next(m for m in asyncio.run(provider.list_models()) if m.name == name)
    return guard.estimate(info, n_ctx, tokens=tokens).total, guard.estimate(info, n_ctx).total


def head_snapshot() -> str:
    """The committed tree as an importable `jarvis` package, for measuring while the work tree is edited."""
    root = Path(tempfile.mkdtemp(prefix="jarvis-head-"))
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=REPO, capture_output=True, check=True).stdout
    (root / "repo").mkdir()
    subprocess.run(["tar", "-x", "-C", str(root / "repo")], input=archive, check=True)
    # The same shape as pyproject's package-dir: jarvis/ holds __init__, the layers sit beside it.
    package = root / "repo" / "jarvis"
    for layer in ("app", "providers", "chains", "assets"):
        (package / layer).symlink_to(root / "repo" / layer)
    (root / "jarvis").symlink_to(package)
    return str(root)


def measure(name: str, path: Path, n_ctx: int, prompt: str, guard: ResourceGuard, tree: str | None) -> Row:
    env = {**os.environ, "JARVIS_HOME": home_for(name, path, n_ctx), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    if tree:
        env["PYTHONPATH"] = tree  # found before the editable install's finder
    cmd = [str(BIN / "jarvis"), "run", "--model", f"embedded/{name}", "--no-cache", "--no-fallback"]
    cmd += ["--max-tokens", str(MAX_TOKENS), "--seed", "1", "-"]
    # Most of the words in the long prompt are one token each; the tokenizer is not loaded here.
    tokens = len(prompt.split()) + CHAIN_OVERHEAD_TOKENS + MAX_TOKENS
    predicted, worst = predict(name, path, n_ctx, min(tokens, n_ctx), guard)
    task = Path(env["JARVIS_HOME"], "task.txt")
    task.write_text(prompt, encoding="utf-8")
    measured = peak_rss(cmd, env, task)
    label = "short" if prompt is SHORT_PROMPT else f"~{len(prompt.split())} tokens"
    return Row(name, n_ctx, label, predicted, worst, measured)


def main(ctxs: list[int], full_window: bool, only: str | None, from_head: bool) -> None:
    tree = head_snapshot() if from_head else None
    models = [("smollm2-135m", gguf.default_model_path())]
    if QWEN.is_file():
        models.append(("qwen2.5-coder-1.5b", QWEN))
    models = [(n, p) for n, p in models if not only or only in n]
    guard = ResourceGuard()
    rows = []
    for name, path in models:
        for n_ctx in ctxs:
            rows.append(measure(name, path, n_ctx, SHORT_PROMPT, guard, tree))
            print(rows[-1], file=sys.stderr)
            if full_window and name == "smollm2-135m":
                # " a" is one token and two characters: the guard's pre-check counts characters / 3,
                # which would refuse a window filled with longer words before the model saw them.
                long_prompt = "Summarise this:" + " a" * int(n_ctx * 0.85 - CHAIN_OVERHEAD_TOKENS)
                rows.append(measure(name, path, n_ctx, long_prompt, guard, tree))
                print(rows[-1], file=sys.stderr)
    print("| model | n_ctx | prompt | predicted | measured peak | error | worst case (admission) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r.model} | {r.n_ctx} | {r.prompt} | {r.predicted / MiB:,.0f} MiB"
            f" | {r.measured / MiB:,.0f} MiB | {r.error:+.1%} | {r.worst / MiB:,.0f} MiB |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--ctx", type=int, nargs="+", default=[2048, 4096, 8192])
    parser.add_argument("--full-window", action="store_true")
    parser.add_argument("--only", help="only models whose name contains this")
    parser.add_argument("--from-head", action="store_true", help="measure the committed tree (git HEAD)")
    args = parser.parse_args()
    main(args.ctx, args.full_window, args.only, args.from_head)
