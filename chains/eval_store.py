"""Eval runs and their per-task results in the ledger (tables made by migrations.m003_eval_runs).

Functions of a `Ledger`, run on the ledger's thread (`AsyncLedger.submit_fn` / `call_fn`), like
chains.feedback. Each task of an eval is also a normal run (runs/steps/requests), linked here by
its run id, so History shows it. Only ids, counts, timings and sentences: never the environment.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .ledger import INTERRUPTED, Ledger, pid_alive

RUNNING, COMPLETED, CANCELLED, FAILED = "running", "completed", "cancelled", "failed"


def recover_interrupted_evals(ledger: Ledger) -> list[str]:
    """Evals left running by a process that is gone read as interrupted (their results so far stay)."""
    rows = ledger.db.execute("SELECT id, pid FROM eval_runs WHERE status = ?", [RUNNING]).fetchall()
    dead = [eval_id for eval_id, pid in rows if not pid_alive(pid)]
    with ledger.db.conn:
        for eval_id in dead:
            ledger.db.execute(
                "UPDATE eval_runs SET status=?, finished_at=? WHERE id=?",
                [INTERRUPTED, ledger.clock.time(), eval_id],
            )
    return dead


def start_eval(
    ledger: Ledger,
    eval_id: str,
    *,
    suite: str,
    source: str,
    models: list[str],
    chains: list[str],
    task_count: int,
    tier: str,
    limits: dict[str, Any],
) -> None:
    with ledger.db.conn:
        ledger.db.execute(
            "INSERT INTO eval_runs (id, suite, source, models_json, chains_json, task_count, tier,"
            " limits_json, status, started_at, pid) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                eval_id,
                suite,
                source,
                json.dumps(models),
                json.dumps(chains),
                task_count,
                tier,
                json.dumps(limits),
                RUNNING,
                ledger.clock.time(),
                os.getpid(),
            ],
        )


def record_eval_result(ledger: Ledger, eval_id: str, row: dict[str, Any]) -> None:
    """One task × model × chain: `row` is TaskResult.as_json()."""
    with ledger.db.conn:
        ledger.db.execute(
            "INSERT INTO eval_results (eval_id, task_id, model_id, chain, run_id, task_type, passed, reason,"
            " checks_passed, checks_total, tokens, seconds, check_seconds, tier, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                eval_id,
                row["task_id"],
                row["model"],
                row["chain"],
                row["run_id"],
                row["task_type"],
                int(row["passed"]),
                row["reason"],
                row["checks_passed"],
                row["checks_total"],
                row["tokens"],
                row["seconds"],
                row["check_seconds"],
                row["tier"],
                ledger.clock.time(),
            ],
        )


def finish_eval(ledger: Ledger, eval_id: str, status: str) -> None:
    with ledger.db.conn:
        ledger.db.execute(
            "UPDATE eval_runs SET status=?, finished_at=? WHERE id=?", [status, ledger.clock.time(), eval_id]
        )


def eval_run(ledger: Ledger, eval_id: str) -> dict[str, Any] | None:
    """An eval with its per-task results, in the order they ran."""
    row = next(ledger.db.query("SELECT * FROM eval_runs WHERE id=?", [eval_id]), None)
    if row is None:
        return None
    row["models"] = json.loads(row.pop("models_json") or "[]")
    row["chains"] = json.loads(row.pop("chains_json") or "[]")
    row["limits"] = json.loads(row.pop("limits_json") or "{}")
    row["results"] = [
        {**r, "passed": bool(r["passed"])}
        for r in ledger.db.query("SELECT * FROM eval_results WHERE eval_id=? ORDER BY id", [eval_id])
    ]
    return row


def eval_runs(ledger: Ledger, limit: int = 20) -> list[dict[str, Any]]:
    """The latest evals, newest first, each with its task and pass counts."""
    return ledger.query(
        "SELECT e.id, e.suite, e.status, e.tier, e.started_at, e.finished_at, e.task_count,"
        " (SELECT COUNT(*) FROM eval_results r WHERE r.eval_id = e.id) AS results,"
        " (SELECT COALESCE(SUM(passed), 0) FROM eval_results r WHERE r.eval_id = e.id) AS passed"
        " FROM eval_runs e ORDER BY e.started_at DESC LIMIT ?",
        [limit],
    )
