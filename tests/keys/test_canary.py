"""The canary: a key planted through `jarvis keys add` (and echoed back by the server's 401 body, as
OpenAI's is) appears in no database row, file under the data dir, log or error line, export, JSON
output, or process title - through a run that rotates past it and one where every key fails."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.keys.test_keys_cli import config, jarvis

pytestmark = pytest.mark.slow  # subprocesses, a loopback server

CANARY = "sk-canary-Z9xQ7mW3vT5pL1kR8nB2cD4"
GOOD = "sk-test-GGGGGGGGGGGGGGGGGGGGGgood"
MODEL = "cloud/openai/gpt-4o-mini"
#: A piece long enough to be the key: catches a key cut or wrapped, not only the whole of it.
PIECES = (CANARY, CANARY[3:20], CANARY[-16:])


def leaks(text: str) -> list[str]:
    return [p for p in PIECES if p in text]


def run_watching_title(*args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run jarvis, reading its command line and process name from /proc while it runs."""
    cmd = [sys.executable, "-m", "jarvis.app.cli", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ)
    titles: list[str] = []
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        for name in ("cmdline", "comm"):
            try:
                titles.append(Path(f"/proc/{proc.pid}/{name}").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                pass
        time.sleep(0.05)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), titles


def test_a_planted_key_leaks_nowhere(cloud_server, key_env):
    config(key_env, cloud_server.url)
    assert jarvis("keys", "add", "openai", "--name", "canary", stdin=CANARY).returncode == 0
    assert jarvis("keys", "add", "openai", "--name", "good", stdin=GOOD).returncode == 0
    cloud_server.keys = {GOOD: "ok"}  # the canary is refused, and the 401 body echoes it
    seen: dict[str, str] = {}

    ran, titles = run_watching_title("run", "Say pong.", "-m", MODEL, "--json", "--no-cache")
    assert ran.returncode == 0, ran.stderr
    assert titles, "the process title was never read"
    assert cloud_server.seen == [CANARY, GOOD], "the run rotated past the canary"
    run_id = json.loads(ran.stdout)["run_id"]
    seen.update({"run stdout": ran.stdout, "run stderr": ran.stderr, "process titles": "\n".join(titles)})

    cloud_server.keys = {}  # now every key is refused: the error path
    failed = jarvis("run", "Say pong.", "-m", MODEL, "--json", "--no-cache")
    assert failed.returncode != 0
    seen.update({"failed run stdout": failed.stdout, "failed run stderr": failed.stderr})
    for args in (
        ("keys", "list", "--json"),
        ("keys", "list"),
        ("keys", "test", "openai", "--json"),
        ("keys", "test", "openai"),
        ("export", run_id, "--format", "json"),
        ("export", run_id),
        ("history", "--json"),
    ):
        out = jarvis(*args)
        seen[" ".join(args)] = out.stdout + out.stderr

    assert {where: leaks(text) for where, text in seen.items() if leaks(text)} == {}
    db = sqlite3.connect(key_env / "jarvis.db")
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    for table in tables:
        for row in db.execute(f"SELECT * FROM {table}"):
            assert not leaks(repr(row)), f"the canary is in a row of {table}"
    assert db.execute("SELECT COUNT(*) FROM key_usage WHERE key_name='canary'").fetchone()[0] >= 2
    db.close()
    files = [p for p in key_env.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"jarvis.db", "keys.json", "keys.cfg"}
    for path in files:  # the database and its WAL, the index, the encrypted file, anything logged
        raw = path.read_bytes()
        assert not [p for p in PIECES if p.encode() in raw], f"the canary is in {path.name}"
