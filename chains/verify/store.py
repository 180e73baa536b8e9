"""Verified runs in the ledger (table made by migrations.m004_verifications).

Functions of a `Ledger`, run on the ledger's thread (`AsyncLedger.submit_fn` / `call_fn`), like
chains.eval_store. The record is VerifiedSession.record: checks, code hashes, per-check results and
durations, tier, limits, rounds; never the environment or the candidates' output.
"""

from __future__ import annotations

import json
from typing import Any

from ..ledger import Ledger


def record_verification(
    ledger: Ledger,
    run_id: str,
    record: dict[str, Any],
    *,
    role: str | None = None,
    winner_step: str | None = None,
) -> None:
    """Keep the record; with `role` and `winner_step`, only the winner's step carries the run's rating
    (every candidate of the code role was started as an answer step)."""
    with ledger.db.conn:
        ledger.db.execute(
            "INSERT OR REPLACE INTO verifications (run_id, status, verified, tier, candidates, rounds,"
            " model_calls, exec_seconds, record_json, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                run_id,
                record["status"],
                int(bool(record.get("verified"))),
                record.get("tier"),
                len(record.get("candidates", [])),
                record.get("rounds", 0),
                record.get("model_calls"),
                record.get("exec_seconds"),
                json.dumps(record),
                ledger.clock.time(),
            ],
        )
        if role and winner_step:
            ledger.db.execute(
                "UPDATE steps SET answer = 0 WHERE run_id = ? AND role = ? AND id != ?",
                [run_id, role, winner_step],
            )


def verification_of(ledger: Ledger, run_id: str) -> dict[str, Any] | None:
    """The stored record of a run's verification, or None when the run was not verified."""
    row = ledger.db.execute("SELECT record_json FROM verifications WHERE run_id = ?", [run_id]).fetchone()
    return json.loads(row[0]) if row else None
