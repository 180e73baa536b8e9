"""A run's edits in the ledger (tables made by migrations.m007_applies): the reviewed diffs, the
refusals with their reasons, what was applied with its backup, undos, and project-test results.

Functions of a `Ledger`, run on the ledger's thread (`AsyncLedger.submit_fn` / `call_fn`), like
chains.verify.store. Stored are paths, hashes, patches and reasons; never a file's whole content
(the backup file in the data dir holds that).
"""

from __future__ import annotations

from typing import Any

from ..ledger import Ledger
from .apply import AppliedFile, UndoOutcome
from .review import EditReview

PROPOSED, REFUSED, APPLIED, UNDONE = "proposed", "refused", "applied", "undone"


def record_review(ledger: Ledger, run_id: str, review: EditReview) -> None:
    """Keep a review of the run's answer, replacing an earlier one not yet applied."""
    now = ledger.clock.time()
    rows = [
        (run_id, str(review.root), c.path, PROPOSED, None, c.patch, c.sha256_before, c.sha256_after, now)
        for c in review.changes
    ] + [
        (run_id, str(review.root), o.path or "", REFUSED, o.reason, None, None, None, now)
        for o in review.refused
    ]
    with ledger.db.conn:
        ledger.db.execute(
            "DELETE FROM applies WHERE run_id = ? AND status IN (?, ?)", [run_id, PROPOSED, REFUSED]
        )
        ledger.db.conn.executemany(
            "INSERT INTO applies (run_id, root, path, status, reason, patch, sha256_before, sha256_after,"
            " created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            rows,
        )


def record_applied(ledger: Ledger, run_id: str, root: str, files: list[AppliedFile]) -> None:
    now = ledger.clock.time()
    with ledger.db.conn:
        for f in files:
            cur = ledger.db.execute(
                "UPDATE applies SET status = ?, backup_path = ?, applied_at = ?, sha256_before = ?,"
                " sha256_after = ? WHERE run_id = ? AND path = ? AND status = ?",
                [APPLIED, f.backup, now, f.sha256_before, f.sha256_after, run_id, f.path, PROPOSED],
            )
            if cur.rowcount == 0:
                ledger.db.execute(
                    "INSERT INTO applies (run_id, root, path, status, sha256_before, sha256_after,"
                    " backup_path, created_at, applied_at) VALUES (?,?,?,?,?,?,?,?,?)",
                    [run_id, root, f.path, APPLIED, f.sha256_before, f.sha256_after, f.backup, now, now],
                )


def record_undone(ledger: Ledger, run_id: str, outcomes: list[UndoOutcome]) -> None:
    now = ledger.clock.time()
    with ledger.db.conn:
        for o in outcomes:
            if o.restored:
                ledger.db.execute(
                    "UPDATE applies SET status = ?, undone_at = ?"
                    " WHERE run_id = ? AND path = ? AND status = ?",
                    [UNDONE, now, run_id, o.path, APPLIED],
                )


def applies_of(ledger: Ledger, run_id: str) -> list[dict[str, Any]]:
    """Every stored row of a run's edits, oldest first."""
    return ledger.query("SELECT * FROM applies WHERE run_id = ? ORDER BY id", [run_id])


def applied_files(ledger: Ledger, run_id: str) -> tuple[str | None, list[AppliedFile]]:
    """The project root and the files an apply of this run wrote and no undo has restored yet."""
    rows = ledger.query(
        "SELECT root, path, sha256_before, sha256_after, backup_path FROM applies"
        " WHERE run_id = ? AND status = ? ORDER BY id",
        [run_id, APPLIED],
    )
    root = rows[0]["root"] if rows else None
    return root, [
        AppliedFile(r["path"], r["sha256_before"], r["sha256_after"], r["backup_path"]) for r in rows
    ]


def record_test_result(ledger: Ledger, run_id: str, result: dict[str, Any]) -> None:
    """The project's test command on a patched copy (chains.edits.project_tests.ProjectTestResult)."""
    with ledger.db.conn:
        ledger.db.execute(
            "INSERT INTO edit_tests (run_id, command, passed, exit_code, tier, seconds, output_tail,"
            " created_at) VALUES (?,?,?,?,?,?,?,?)",
            [
                run_id,
                result["command"],
                int(bool(result["passed"])),
                result.get("exit_code"),
                result.get("tier"),
                result.get("seconds"),
                result.get("output_tail"),
                ledger.clock.time(),
            ],
        )


def test_results_of(ledger: Ledger, run_id: str) -> list[dict[str, Any]]:
    return ledger.query("SELECT * FROM edit_tests WHERE run_id = ? ORDER BY id", [run_id])
