"""Ledger: migrations, interrupted runs, cache and budgets; and a real kill -9 mid-stream."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from jarvis.chains.costs import budget_status, cost_report, within_budget
from jarvis.chains.ledger import INTERRUPTED, Ledger
from jarvis.chains.ledger_async import AsyncLedger
from jarvis.chains.migrations import MIGRATIONS, migrate


def test_migrations_are_ordered_named_and_run_once(tmp_path):
    ledger = Ledger(tmp_path / "j.db")
    assert migrate(ledger.db) == []  # already applied at open
    names = [r[0] for r in ledger.db.execute("SELECT name FROM _migrations ORDER BY applied_at").fetchall()]
    assert names == [m.__name__ for m in MIGRATIONS]
    assert ledger.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    ledger.close()


@pytest.mark.slow  # starts a process to have a pid that is surely gone
def test_runs_of_dead_processes_read_as_interrupted(tmp_path):
    ledger = Ledger(tmp_path / "j.db")
    ledger.start_run("run_dead", "chain", "t", "default", {}, {})
    ledger.start_step("step_dead", "run_dead", 0, "executor", 0, "m", "p", "")
    ledger.start_run("run_live", "chain", "t", "default", {}, {})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    ledger.db.execute("UPDATE runs SET pid=? WHERE id='run_dead'", [dead.pid])
    assert ledger.recover_interrupted() == ["run_dead"]
    run = ledger.run("run_dead")
    assert run["status"] == INTERRUPTED and run["steps"][0]["status"] == INTERRUPTED
    assert ledger.run("run_live")["status"] == "running"  # this process is alive


def test_cache_budgets_and_cost_reports():
    ledger = Ledger(":memory:")
    ledger.cache_put("k", "m", {"text": "hi"})
    assert ledger.cache_get("k") == {"text": "hi"} and ledger.cache_get("nope") is None
    assert ledger.cache_stats()["hits"] == 1
    ledger.record_request(
        {
            "model_id": "cloud/openai/gpt-4o-mini",
            "provider": "cloud",
            "status": "ok",
            "cost_usd": 0.75,
            "task_type": "chat",
        }
    )
    ledger.record_request(
        {"model_id": "embedded/x", "provider": "embedded", "status": "ok", "task_type": "chat"}
    )
    assert within_budget(ledger)
    ledger.set_budget("daily", 0.5)
    assert not within_budget(ledger)
    daily = next(b for b in budget_status(ledger) if b["period"] == "daily")
    assert daily == {"period": "daily", "limit_usd": 0.5, "spent_usd": 0.75, "exhausted": True}
    by_provider = {r["key"]: r for r in cost_report(ledger, "provider")}
    assert by_provider["cloud"]["cost_usd"] == 0.75 and by_provider["embedded"]["cost_usd"] == 0


async def test_async_ledger_keeps_order_off_the_loop(tmp_path):
    ledger = AsyncLedger(tmp_path / "j.db")
    ledger.start_run("run_1", "chain", "t", "default", {}, {})
    for i in range(100):
        ledger.record_request({"run_id": "run_1", "model_id": "m", "status": "ok", "latency_s": i})
    ledger.finish_run("run_1", "completed")
    await ledger.flush()
    run = await ledger.run("run_1")
    assert run["status"] == "completed"
    rows = await ledger.query("SELECT latency_s FROM requests ORDER BY id")
    assert [r["latency_s"] for r in rows] == list(range(100))
    assert not ledger.errors
    ledger.close()


@pytest.mark.slow  # the CLI in a subprocess, killed mid-stream
def test_kill_9_mid_stream_leaves_a_consistent_ledger(isolated_home):
    (isolated_home / "config.toml").write_text("[ollama]\nenabled = false\n[lmstudio]\nenabled = false\n")
    env = {**os.environ, "JARVIS_HOME": str(isolated_home)}
    task = "Write a very long essay about the history of compilers, with many sections."
    proc = subprocess.Popen(
        [sys.executable, "-m", "jarvis.app.cli", "run", task, "--max-tokens", "3000", "--seed", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    streamed = b""
    deadline = time.monotonic() + 120
    started = None
    while time.monotonic() < deadline:
        streamed += proc.stdout.read1(256)
        if streamed and started is None:
            started = time.monotonic()
        if started and time.monotonic() - started > 3:  # past the 2 s partial-output checkpoint
            break
    assert streamed, "the run streamed tokens before it was killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    db = isolated_home / "jarvis.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        status = conn.execute("SELECT status FROM runs").fetchone()[0]
    assert status == "running"  # as the killed process left it
    out = subprocess.run(
        [sys.executable, "-m", "jarvis.app.cli", "history", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    [run] = json.loads(out.stdout)["runs"]
    assert run["status"] == "interrupted"
    ledger = Ledger(db)
    detail = ledger.run(run["id"])
    assert detail["steps"][0]["status"] == "interrupted"
    assert detail["steps"][0]["output"], "the partial output checkpointed before the kill is kept"
    assert detail["steps"][0]["output"] in streamed.decode("utf-8", "replace")
