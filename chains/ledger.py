"""The ledger: runs, steps, requests, ratings, votes, events, cache and budgets in one SQLite file.

WAL with synchronous=NORMAL survives a killed process. A run row is written when the run
starts and updated as it goes; a run still marked running whose process is gone reads as
interrupted at the next start. Never an API key: only model ids, counts, timings and text.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil
from sqlite_utils import Database

from jarvis.providers.keys.types import KeyUse
from jarvis.providers.types import Usage

from .bus import REQUEST_COMPLETED, REQUEST_FAILED, RequestRecord
from .clock import Clock, SystemClock, new_id
from .context.attachment import Attachment, RunFile
from .migrations import migrate
from .thread_turn import TURN_COLUMNS, ThreadTurn

__all__ = ["Ledger", "new_id", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "INTERRUPTED"]

RUNNING, COMPLETED, FAILED = "running", "completed", "failed"
CANCELLED, INTERRUPTED = "cancelled", "interrupted"


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        # A zombie (killed, not yet reaped by its parent) still exists as a pid but runs nothing.
        return bool(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


class Ledger:
    """Synchronous access; use from one thread (AsyncLedger gives the event loop a non-blocking face)."""

    def __init__(self, path: str | Path, *, clock: Clock | None = None) -> None:
        self.path = str(path)
        self.clock: Clock = clock or SystemClock()
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.path)
        if self.path != ":memory:":
            self.db.enable_wal()
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA busy_timeout=5000")
        migrate(self.db)

    def close(self) -> None:
        self.db.close()

    def _exec(self, sql: str, params: Any = ()) -> None:
        with self.db.conn:
            self.db.execute(sql, params)

    def _scalar(self, sql: str, params: Any = ()) -> Any:
        return self.db.execute(sql, params).fetchone()[0]

    # -- runs and steps -------------------------------------------------
    def recover_interrupted(self) -> list[str]:
        """Mark runs left 'running' by a process that no longer exists as interrupted."""
        rows = self.db.execute("SELECT id, pid FROM runs WHERE status = ?", [RUNNING]).fetchall()
        dead = [rid for rid, pid in rows if not pid_alive(pid)]
        now = self.clock.time()
        with self.db.conn:
            for rid in dead:
                self.db.execute(
                    "UPDATE runs SET status=?, finished_at=COALESCE(finished_at, ?),"
                    " error=COALESCE(error, ?) WHERE id=?",
                    [INTERRUPTED, now, "The process running it stopped before it finished.", rid],
                )
                self.db.execute(
                    "UPDATE steps SET status=?, finished_at=COALESCE(finished_at, ?) "
                    "WHERE run_id=? AND status=?",
                    [INTERRUPTED, now, rid, RUNNING],
                )
        return dead

    def start_run(
        self,
        run_id: str,
        kind: str,
        task: str,
        chain: str | None,
        analysis: dict | None,
        options: dict | None,
    ) -> None:
        self._exec(
            "INSERT INTO runs (id, kind, task, chain, task_type, language, status, started_at, pid,"
            " options_json, analysis_json) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                run_id,
                kind,
                task,
                chain,
                (analysis or {}).get("task_type"),
                (analysis or {}).get("language"),
                RUNNING,
                self.clock.time(),
                os.getpid(),
                json.dumps(options or {}),
                json.dumps(analysis or {}),
            ],
        )

    def finish_run(
        self,
        run_id: str,
        status: str,
        *,
        result: dict | None = None,
        error: str | None = None,
        error_kind: str | None = None,
    ) -> None:
        cost = self.spent_for_run(run_id)
        result_json = json.dumps(result) if result is not None else None
        self._exec(
            "UPDATE runs SET status=?, finished_at=?, result_json=?, error=?, error_kind=?, cost_usd=?"
            " WHERE id=?",
            [status, self.clock.time(), result_json, error, error_kind, cost, run_id],
        )

    def start_step(
        self,
        step_id: str,
        run_id: str,
        idx: int,
        role: str,
        round_: int,
        model_id: str | None,
        provider: str | None,
        reason: str | None,
        *,
        answer: bool = False,
    ) -> None:
        """``answer``: this step writes (a version of) the run's answer: a run's rating goes to its model."""
        self._exec(
            "INSERT INTO steps (id, run_id, idx, role, round, model_id, provider, status, started_at,"
            " reason, answer) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                step_id,
                run_id,
                idx,
                role,
                round_,
                model_id,
                provider,
                RUNNING,
                self.clock.time(),
                reason,
                int(answer),
            ],
        )

    def checkpoint_step(self, step_id: str, output: str) -> None:
        """Partial output so far: a killed process keeps what was streamed up to the last checkpoint."""
        self._exec("UPDATE steps SET output=? WHERE id=?", [output, step_id])

    def finish_step(
        self,
        step_id: str,
        status: str,
        output: str,
        usage: Usage | None = None,
        *,
        model_id: str | None = None,
        provider: str | None = None,
        notices: list[str] | None = None,
        error: str | None = None,
        reason: str | None = None,
    ) -> None:
        """``reason`` replaces the selection's when a fallback answered (model_id: the model that did)."""
        u = usage or Usage()
        self._exec(
            "UPDATE steps SET status=?, finished_at=?, output=?, prompt_tokens=?, completion_tokens=?,"
            " ttft_s=?, tokens_per_s=?, total_s=?, finish_reason=?, notices_json=?, error=?,"
            " model_id=COALESCE(?, model_id), provider=COALESCE(?, provider), reason=COALESCE(?, reason)"
            " WHERE id=?",
            [
                status,
                self.clock.time(),
                output,
                u.prompt_tokens,
                u.completion_tokens,
                u.ttft_s,
                u.tokens_per_s,
                u.total_s,
                u.finish_reason,
                json.dumps(notices or []),
                error,
                model_id,
                provider,
                reason,
                step_id,
            ],
        )

    # -- requests -------------------------------------------------------
    _REQUEST_SQL = (
        "INSERT INTO requests (run_id, step_id, model_id, provider, task_type, role, prompt_tokens,"
        " completion_tokens, ttft_s, tokens_per_s, latency_s, cost_usd, status, error_kind, error,"
        " partial_text, cached, created_at, started_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    )

    def record_request(self, request: RequestRecord | dict[str, Any]) -> None:
        """One request (one attempt of a step) and, for answers and failures, its stored event."""
        row = request.as_row() if isinstance(request, RequestRecord) else request
        conn = self.db.conn
        with conn:
            conn.execute(self._REQUEST_SQL, self._request_params(row))
            if row["status"] in ("ok", "failed"):
                topic = REQUEST_COMPLETED if row["status"] == "ok" else REQUEST_FAILED
                # Partial text is already in the requests table; events stay small.
                public = {k: v for k, v in row.items() if k != "partial_text"}
                conn.execute(
                    self._EVENT_SQL,
                    [row.get("run_id"), topic, json.dumps(public, default=str), self.clock.time()],
                )

    def record_requests(self, requests: list[RequestRecord | dict[str, Any]]) -> None:
        """Many rows in one transaction, without events (imports, benchmarks)."""
        rows = [r.as_row() if isinstance(r, RequestRecord) else r for r in requests]
        with self.db.conn:
            self.db.conn.executemany(self._REQUEST_SQL, [self._request_params(r) for r in rows])

    def _request_params(self, r: dict[str, Any]) -> list[Any]:
        return [
            r.get("run_id"),
            r.get("step_id"),
            r["model_id"],
            r.get("provider"),
            r.get("task_type"),
            r.get("role"),
            r.get("prompt_tokens"),
            r.get("completion_tokens"),
            r.get("ttft_s"),
            r.get("tokens_per_s"),
            r.get("latency_s"),
            r.get("cost_usd", 0.0),
            r["status"],
            r.get("error_kind"),
            r.get("error"),
            r.get("partial_text"),
            int(bool(r.get("cached"))),
            r.get("created_at") or self.clock.time(),
            r.get("started_at"),
        ]

    # -- feedback -------------------------------------------------------
    def add_rating(
        self,
        target_kind: str,
        target_id: str,
        score: int,
        *,
        comment: str | None = None,
        correction: str | None = None,
    ) -> dict[str, Any]:
        if target_kind == "run":
            row = self.db.execute("SELECT id, task_type FROM runs WHERE id=?", [target_id]).fetchone()
            if row is None:
                raise KeyError(target_id)
            run_id, task_type = row
            # The run's rating goes to the model that wrote the answer (its latest version).
            model = self.db.execute(
                "SELECT model_id, role FROM steps WHERE run_id=? AND status='completed' "
                "ORDER BY answer DESC, idx DESC LIMIT 1",
                [run_id],
            ).fetchone()
            model_id, role = (model[0], model[1]) if model else (None, None)
        else:
            row = self.db.execute(
                "SELECT s.run_id, r.task_type, s.model_id, s.role FROM steps s JOIN runs r "
                "ON r.id = s.run_id WHERE s.id=?",
                [target_id],
            ).fetchone()
            if row is None:
                raise KeyError(target_id)
            run_id, task_type, model_id, role = row
        data = {
            "target_kind": target_kind,
            "target_id": target_id,
            "run_id": run_id,
            "model_id": model_id,
            "task_type": task_type,
            "role": role,
            "score": score,
            "comment": comment,
            "correction": correction,
            "created_at": self.clock.time(),
        }
        with self.db.conn:
            self.db.table("ratings").insert(data)
        return data

    def add_votes(self, compare_id: str, pairs: list[tuple[str, str, str]], task_type: str | None) -> None:
        now = self.clock.time()
        with self.db.conn:
            self.db.conn.executemany(
                "INSERT INTO votes (compare_id, model_a, model_b, outcome, task_type, created_at)"
                " VALUES (?,?,?,?,?,?)",
                [(compare_id, a, b, outcome, task_type, now) for a, b, outcome in pairs],
            )

    _EVENT_SQL = "INSERT INTO events (run_id, type, payload_json, created_at) VALUES (?,?,?,?)"

    def add_event(self, run_id: str | None, type_: str, payload: dict[str, Any]) -> None:
        self._exec(self._EVENT_SQL, [run_id, type_, json.dumps(payload, default=str), self.clock.time()])

    # -- cache ----------------------------------------------------------
    def cache_get(self, key: str) -> dict | None:
        row = self.db.execute("SELECT response_json FROM cache WHERE key=?", [key]).fetchone()
        if row is None:
            return None
        self._exec("UPDATE cache SET hits = hits + 1, last_hit_at=? WHERE key=?", [self.clock.time(), key])
        response: dict = json.loads(row[0])
        return response

    def cache_put(self, key: str, model_id: str, response: dict) -> None:
        self._exec(
            "INSERT OR REPLACE INTO cache (key, model_id, response_json, created_at, hits)"
            " VALUES (?,?,?,?,0)",
            [key, model_id, json.dumps(response), self.clock.time()],
        )

    def cache_stats(self) -> dict[str, Any]:
        entries, hits = self.db.execute("SELECT COUNT(*), COALESCE(SUM(hits), 0) FROM cache").fetchone()
        cached_requests = self._scalar("SELECT COUNT(*) FROM requests WHERE cached=1")
        total = self._scalar("SELECT COUNT(*) FROM requests")
        return {"entries": entries, "hits": hits, "hit_rate": cached_requests / total if total else 0.0}

    # -- budgets --------------------------------------------------------
    def set_budget(self, period: str, limit_usd: float) -> None:
        self._exec("INSERT OR REPLACE INTO budgets (period, limit_usd) VALUES (?,?)", [period, limit_usd])

    def budgets(self) -> dict[str, float]:
        return dict(self.db.execute("SELECT period, limit_usd FROM budgets").fetchall())

    def spent_for_run(self, run_id: str) -> float:
        return float(self._scalar("SELECT COALESCE(SUM(cost_usd), 0) FROM requests WHERE run_id=?", [run_id]))

    def spent_since(self, since: float) -> float:
        return float(
            self._scalar("SELECT COALESCE(SUM(cost_usd), 0) FROM requests WHERE created_at >= ?", [since])
        )

    # -- key usage (providers.keys; migration m009) ----------------------
    def record_key_use(self, use: KeyUse) -> None:
        """One request made with a cloud key, by the key's name (the key itself never reaches the ledger)."""
        self._exec(
            "INSERT INTO key_usage (provider, key_name, source, model_id, outcome, prompt_tokens,"
            " completion_tokens, cost_usd, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            [
                use.provider,
                use.key_name,
                use.source,
                use.model,
                use.outcome,
                use.prompt_tokens,
                use.completion_tokens,
                use.cost_usd,
                self.clock.time(),
            ],
        )

    def key_usage(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Per (provider, key name): requests, tokens, cost, when it was last used and how that went."""
        rows = self.db.query(
            "SELECT provider, key_name, COUNT(*) AS requests, COALESCE(SUM(prompt_tokens), 0)"
            " + COALESCE(SUM(completion_tokens), 0) AS tokens, COALESCE(SUM(cost_usd), 0) AS cost_usd,"
            " MAX(created_at) AS last_used, (SELECT outcome FROM key_usage k WHERE k.provider = u.provider"
            " AND k.key_name = u.key_name ORDER BY created_at DESC, id DESC LIMIT 1) AS last_outcome"
            " FROM key_usage u GROUP BY provider, key_name"
        )
        return {(r.pop("provider"), r.pop("key_name")): r for r in rows}

    # -- attached files (chains.context) ---------------------------------
    def add_run_files(
        self, run_id: str, root: str, attachments: Sequence[Attachment], *, keep_content: bool = False
    ) -> None:
        """Paths, hashes, token counts and status of a run's files; their text only with ``keep_content``."""
        with self.db.conn:
            self.db.conn.executemany(
                "INSERT INTO run_files (run_id, root, path, sha256, size, tokens, status, content)"
                " VALUES (?,?,?,?,?,?,?,?)",
                [
                    (run_id, root, a.rel_path, a.sha256, a.size, a.tokens, a.status, a.text)
                    if keep_content
                    else (run_id, root, a.rel_path, a.sha256, a.size, a.tokens, a.status, None)
                    for a in attachments
                ],
            )

    def run_files(self, run_id: str) -> list[RunFile]:
        rows = self.db.execute(
            "SELECT run_id, root, path, sha256, size, tokens, status, content FROM run_files"
            " WHERE run_id=? ORDER BY rowid",
            [run_id],
        ).fetchall()
        return [RunFile(*row) for row in rows]

    # -- threads (chains.threads; columns from migration m006) -----------
    def set_thread(self, run_id: str, thread_id: str | None, parent_run_id: str | None, turn: int) -> None:
        """Place a run in a thread as a follow-up, regenerated or forked turn (None: a thread of its own)."""
        self._exec(
            "UPDATE runs SET thread_id=?, parent_run_id=?, turn=? WHERE id=?",
            [thread_id or run_id, parent_run_id, turn, run_id],
        )

    def thread_turn(self, run_id: str) -> ThreadTurn | None:
        row = next(self.db.query(f"SELECT {TURN_COLUMNS} FROM runs r WHERE r.id=?", [run_id]), None)
        return ThreadTurn.from_row(row) if row else None

    def lineage(self, run_id: str) -> list[ThreadTurn]:
        """The turns a run continues, first turn first, ending with the run itself (across forks)."""
        sql = (
            "WITH RECURSIVE up(id, depth) AS (SELECT ?, 0 UNION ALL SELECT p.parent_run_id, up.depth + 1"
            " FROM runs p JOIN up ON p.id = up.id WHERE p.parent_run_id IS NOT NULL AND up.depth < 1000)"
            f" SELECT {TURN_COLUMNS} FROM up JOIN runs r ON r.id = up.id ORDER BY up.depth DESC"
        )
        return [ThreadTurn.from_row(row) for row in self.db.query(sql, [run_id])]

    def thread_turns(self, thread_id: str) -> list[ThreadTurn]:
        """Every run of a thread (regenerated turns beside their originals), by turn, then start."""
        sql = (
            f"SELECT {TURN_COLUMNS} FROM runs r WHERE r.thread_id = ? OR (r.thread_id IS NULL AND r.id = ?)"
            " ORDER BY COALESCE(r.turn, 1), r.started_at"
        )
        return [ThreadTurn.from_row(row) for row in self.db.query(sql, [thread_id, thread_id])]

    def latest_run(self, kind: str = "chain") -> str | None:
        """The id of the newest run of that kind (what `jarvis run --continue` continues by default)."""
        row = self.db.execute(
            "SELECT id FROM runs WHERE kind=? ORDER BY started_at DESC, rowid DESC LIMIT 1", [kind]
        ).fetchone()
        return row[0] if row else None

    def runs_using_model(self, model_id: str) -> list[str]:
        """Runs going on now (their process alive) that use ``model_id``: a step on it, or a comparison
        naming it. Its model must not be deleted under them."""
        rows = self.db.execute(
            "SELECT DISTINCT r.id, r.pid FROM runs r LEFT JOIN steps s ON s.run_id = r.id AND s.status = ?"
            " WHERE r.status = ? AND (s.model_id = ? OR r.options_json LIKE ?)",
            [RUNNING, RUNNING, model_id, f'%"{model_id}"%'],
        ).fetchall()
        return [rid for rid, pid in rows if pid_alive(pid)]

    # -- reads ----------------------------------------------------------
    def run(self, run_id: str) -> dict[str, Any] | None:
        """A run with its steps (each with ``attempts``: every model tried, in order), ratings and votes."""
        row = next(self.db.query("SELECT * FROM runs WHERE id=?", [run_id]), None)
        if row is None:
            return None
        row["steps"] = self.query("SELECT * FROM steps WHERE run_id=? ORDER BY idx", [run_id])
        attempts: dict[str, list[dict[str, Any]]] = {}
        for r in self.db.query(
            "SELECT step_id, model_id, provider, status, error_kind, error, partial_text,"
            " latency_s, started_at, created_at, cached FROM requests WHERE run_id=?"
            " ORDER BY id",
            [run_id],
        ):
            attempts.setdefault(r.pop("step_id"), []).append(attempt_json(r))
        for step in row["steps"]:
            step["attempts"] = attempts.get(step["id"], [])
        row["ratings"] = self.query("SELECT * FROM ratings WHERE run_id=? ORDER BY id", [run_id])
        row["votes"] = self.query("SELECT * FROM votes WHERE compare_id=? ORDER BY id", [run_id])
        # Paths, hashes, token counts and status of the attached files (chains.context), never their text.
        row["files"] = [
            {k: getattr(f, k) for k in ("root", "path", "sha256", "size", "tokens", "status")}
            for f in self.run_files(run_id)
        ]
        # The answer's edits to them (chains.edits): each file's patch or refusal, apply and undo; the
        # project tests run on the patched copy.
        row["applies"] = self.query(
            "SELECT path, status, reason, patch, sha256_before, sha256_after, applied_at, undone_at"
            " FROM applies WHERE run_id=? ORDER BY id",
            [run_id],
        )
        row["edit_tests"] = self.query(
            "SELECT command, passed, exit_code, tier, seconds, output_tail FROM edit_tests WHERE run_id=?"
            " ORDER BY id",
            [run_id],
        )
        return row

    def history(
        self, search: str | None = None, limit: int = 50, kind: str | None = None
    ) -> list[dict[str, Any]]:
        sql = (
            "SELECT r.id, r.kind, r.task, r.chain, r.task_type, r.status, r.started_at, r.finished_at,"
            " r.cost_usd, COALESCE(r.thread_id, r.id) AS thread_id, r.parent_run_id,"
            " COALESCE(r.turn, 1) AS turn,"
            " (SELECT GROUP_CONCAT(DISTINCT s.model_id) FROM steps s WHERE s.run_id = r.id) AS models,"
            " (SELECT AVG(score) FROM ratings g WHERE g.run_id = r.id) AS rating FROM runs r WHERE 1=1"
        )
        params: list[Any] = []
        if search:
            sql += " AND (r.task LIKE ? OR r.id LIKE ? OR r.chain LIKE ?)"
            params += [f"%{search}%"] * 3
        if kind:
            sql += " AND r.kind = ?"
            params.append(kind)
        sql += " ORDER BY r.started_at DESC LIMIT ?"
        params.append(limit)
        return self.query(sql, params)

    def delete_run(self, run_id: str) -> bool:
        with self.db.conn:
            cur = self.db.execute("DELETE FROM runs WHERE id=?", [run_id])
            for table, col in (
                ("steps", "run_id"),
                ("ratings", "run_id"),
                ("votes", "compare_id"),
                ("events", "run_id"),
                ("run_files", "run_id"),
            ):
                self.db.execute(f"DELETE FROM {table} WHERE {col}=?", [run_id])
        return cur.rowcount > 0

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        return list(self.db.query(sql, params))


def attempt_json(r: dict[str, Any]) -> dict[str, Any]:
    """One model tried for a step, as run --json, export and History show it."""
    return {
        "model": r["model_id"],
        "provider": r["provider"],
        "status": r["status"],
        "error_kind": r["error_kind"],
        "error": r["error"],
        "partial_text": r["partial_text"] or "",
        "started_at": r["started_at"],
        "finished_at": r["created_at"],
        "latency_s": r["latency_s"],
        "cached": bool(r["cached"]),
    }
