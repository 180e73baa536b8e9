"""Time to first paint of `jarvis` (the workbench) in a real pseudo-terminal, no providers reachable.

Run: .venv/bin/python -m bench.first_paint [--runs 10]
Measured from process start until the first frame has been written: the tab bar (top row) and, for
`jarvis`, the key line (bottom row), so the whole first screen.
Each round also starts a bare Textual app (one label) the same way, so the machine's speed at the
time is in the same table: this 2-core machine varies by ±30 % from one hour to the next.
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import dead_url

BIN = Path(sys.executable).parent / "jarvis"
BARE_APP = """
from textual.app import App
from textual.widgets import Label

class Bare(App):
    def compose(self):
        yield Label("Compare F3")

Bare().run()
"""


def one(home: str, command: list[str] | None = None) -> tuple[float, float | None]:
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    env = {**os.environ, "JARVIS_HOME": home, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        command or [str(BIN)], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
    )
    os.close(slave)
    seen = b""
    painted = ready = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and ready is None:
        r, _, _ = select.select([master], [], [], 0.05)
        if not r:
            continue
        try:
            seen += os.read(master, 1 << 16)
        except OSError:
            break
        # The tab bar (top row) and the key line (bottom row): the whole first screen is drawn.
        if painted is None and b"Compare F3" in seen and (command or b"Quit" in seen):
            painted = time.perf_counter() - t0
        if b"model(s) ready" in seen:
            ready = time.perf_counter() - t0
        if command and painted is not None:
            break
    os.write(master, b"\x11")  # ctrl+q
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    os.close(master)
    return painted, ready


def main(runs: int) -> None:
    home = tempfile.mkdtemp()
    Path(home, "config.toml").write_text(
        f'[ollama]\nhosts = [{{name = "ollama", url = "{dead_url()}"}}]\n[lmstudio]\nurl = "{dead_url()}"\n'
    )
    bare = [sys.executable, "-c", BARE_APP]
    one(home)  # warm the page cache
    one(home, bare)
    paints, readies, bare_paints = [], [], []
    for _ in range(runs):
        p, r = one(home)
        paints.append(p)
        readies.append(r)
        bare_paints.append(one(home, bare)[0])
    print(f"| measurement (n={runs}) | p50 | min | max |")
    print("|---|---|---|---|")
    print(
        f"| bare Textual app, first paint (reference) | {statistics.median(bare_paints):.3f} s |"
        f" {min(bare_paints):.3f} s | {max(bare_paints):.3f} s |"
    )
    print(
        f"| first paint (whole first screen) | {statistics.median(paints):.3f} s | {min(paints):.3f} s |"
        f" {max(paints):.3f} s |"
    )
    print(
        f"| models discovered (status bar says ready) | {statistics.median(readies):.3f} s |"
        f" {min(readies):.3f} s | {max(readies):.3f} s |"
    )
    print(
        "\njarvis first paint / bare Textual app, medians: "
        f"{statistics.median(paints) / statistics.median(bare_paints):.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    main(parser.parse_args().runs)
