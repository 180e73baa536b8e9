"""Cold start: wall time of `jarvis --version` and `jarvis models` vs `python -c "import litellm"`.

Run: .venv/bin/python -m bench.cold_start [--runs 10]
Providers are pointed at closed loopback ports, so `models` measures our start-up plus
discovery of the embedded model, not a network timeout.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import dead_url

BIN = Path(sys.executable).parent


def timed(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def main(runs: int) -> None:
    home = tempfile.mkdtemp()
    Path(home, "config.toml").write_text(
        f'[ollama]\nhosts = [{{name = "ollama", url = "{dead_url()}"}}]\n[lmstudio]\nurl = "{dead_url()}"\n'
    )
    env = {**os.environ, "JARVIS_HOME": home, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    commands = {
        "jarvis --version": [str(BIN / "jarvis"), "--version"],
        "jarvis models": [str(BIN / "jarvis"), "models"],
        "jarvis models --json": [str(BIN / "jarvis"), "models", "--json"],
        'python -c "import litellm"': [sys.executable, "-c", "import litellm"],
        'python -c "pass"': [sys.executable, "-c", "pass"],
    }
    times = {k: [] for k in commands}
    for cmd in commands.values():
        timed(cmd, env)  # warm the page cache
    for _ in range(runs):
        for name, cmd in commands.items():
            times[name].append(timed(cmd, env))
    print(f"| command | wall p50 | min | max | (n={runs}) |")
    print("|---|---|---|---|---|")
    for name, ts in times.items():
        print(f"| `{name}` | {statistics.median(ts):.3f} s | {min(ts):.3f} s | {max(ts):.3f} s | |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    main(parser.parse_args().runs)
