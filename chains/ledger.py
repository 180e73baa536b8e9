"""The ledger: runs, steps, requests, ratings, votes, events, cache and budgets in one SQLite file.

WAL with synchronous=NORMAL survives a killed process. A run row is written when the run
starts and updated as it goes; a run still marked running whose process is gone reads as
interrupted at the next start. Never an API key: only model ids, counts, timings and text.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from .migrations import migrate

RUNNING, COMPLETED, FAILED, CANCELLED, INTERRUPTED = "running", "completed", "failed", "cancelled", "interrupted"


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped by its parent) still answers kill(0).
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


class Ledger:
    """Synchronous access; use from one thread (AsyncLedger gives the event loop a non-blocking face)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
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

    # -- runs and steps -------------------------------------------------
    def recover_interrupted(self) -> list[str]:
        """Mark runs left 'running' by a process that no longer exists as interrupted."""
        rows = self.db.execute("SELECT id, pid FROM runs WHERE status = ?", [RUNNING]).fetchall()
        dead = [rid for rid, pid in rows if not _pid_alive(pid)]
        now = time.time()
        with self.db.conn:
            for rid in dead:
                self.db.execute("UPDATE runs SET status=?, finished_at=COALESCE(finished_at, ?), error=COALESCE(error, ?) "
                                "WHERE id=?", [INTERRUPTED, now, "The process running it stopped before it finished.",
                                               rid])
                self.db.execute("UPDATE steps SET status=?, finished_at=COALESCE(finished_at, ?) "
                                "WHERE run_id=? AND status=?", [INTERRUPTED, now, rid, RUNNING])
        return dead

    def start_run(self, run_id: str, kind: str, task: str, chain: str | None, analysis: dict | None,
                  options: dict | None) -> None:
        self._exec(
            "INSERT INTO runs (id, kind, task, chain, task_type, language, status, started_at, pid, options_json,"
            " analysis_json) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [run_id, kind, task, chain, (analysis or {}).get("task_type"), (analysis or {}).get("language"), RUNNING,
             time.time(), os.getpid(), json.dumps(options or {}), json.dumps(analysis or {})],
        )

    def finish_run(self, run_id: str, status: str, *, result: dict | None = None, error: str | None = None,
                   error_kind: str | None = None) -> None:
        cost = self.db.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM requests WHERE run_id=?", [run_id]).fetchone()[0]
        self._exec("UPDATE runs SET status=?, finished_at=?, result_json=?, error=?, error_kind=?, cost_usd=? WHERE id=?",
                   [status, time.time(), json.dumps(result) if result is not None else None, error, error_kind,
                    cost, run_id])

    def start_step(self, step_id: str, run_id: str, idx: int, role: str, round_: int, model_id: str | None,
                   provider: str | None, reason: str | None) -> None:
        self._exec("INSERT INTO steps (id, run_id, idx, role, round, model_id, provider, status, started_at, reason)"
                   " VALUES (?,?,?,?,?,?,?,?,?,?)",
                   [step_id, run_id, idx, role, round_, model_id, provider, RUNNING, time.time(), reason])

    def checkpoint_step(self, step_id: str, output: str) -> None:
        """Partial output so far: a killed process keeps what was streamed up to the last checkpoint."""
        self._exec("UPDATE steps SET output=? WHERE id=?", [output, step_id])

    def finish_step(self, step_id: str, status: str, output: str, usage: dict | None, *, model_id: str | None = None,
                    provider: str | None = None, notices: list[str] | None = None, error: str | None = None) -> None:
        u = usage or {}
        self._exec(
            "UPDATE steps SET status=?, finished_at=?, output=?, prompt_tokens=?, completion_tokens=?, ttft_s=?,"
            " tokens_per_s=?, total_s=?, finish_reason=?, notices_json=?, error=?,"
            " model_id=COALESCE(?, model_id), provider=COALESCE(?, provider) WHERE id=?",
            [status, time.time(), output, u.get("prompt_tokens"), u.get("completion_tokens"), u.get("ttft_s"),
             u.get("tokens_per_s"), u.get("total_s"), u.get("finish_reason"), json.dumps(notices or []), error,
             model_id, provider, step_id],
        )

    # -- requests -------------------------------------------------------
    _REQUEST_SQL = (
        "INSERT INTO requests (run_id, step_id, model_id, provider, task_type, role, prompt_tokens, completion_tokens,"
        " ttft_s, tokens_per_s, latency_s, cost_usd, status, error_kind, error, partial_text, cached, created_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    )

    def record_request(self, row: dict[str, Any]) -> None:
        self._exec(self._REQUEST_SQL, self._request_params(row))

    def record_requests(self, rows: list[dict[str, Any]]) -> None:
        with self.db.conn:
            self.db.conn.executemany(self._REQUEST_SQL, [self._request_params(r) for r in rows])

    @staticmethod
    def _request_params(r: dict[str, Any]) -> list[Any]:
        return [r.get("run_id"), r.get("step_id"), r["model_id"], r.get("provider"), r.get("task_type"), r.get("role"),
                r.get("prompt_tokens"), r.get("completion_tokens"), r.get("ttft_s"), r.get("tokens_per_s"),
                r.get("latency_s"), r.get("cost_usd", 0.0), r["status"], r.get("error_kind"), r.get("error"),
                r.get("partial_text"), int(bool(r.get("cached"))), r.get("created_at") or time.time()]

    # -- feedback -------------------------------------------------------
    def add_rating(self, target_kind: str, target_id: str, score: int, *, comment: str | None = None,
                   correction: str | None = None) -> dict[str, Any]:
        if target_kind == "run":
            row = self.db.execute("SELECT id, task_type FROM runs WHERE id=?", [target_id]).fetchone()
            if row is None:
                raise KeyError(target_id)
            run_id, task_type = row
            model = self.db.execute("SELECT model_id, role FROM steps WHERE run_id=? AND status='completed' "
                                    "ORDER BY CASE role WHEN 'executor' THEN 0 ELSE 1 END, idx DESC LIMIT 1",
                                    [run_id]).fetchone()
            model_id, role = (model[0], model[1]) if model else (None, None)
        else:
            row = self.db.execute("SELECT s.run_id, r.task_type, s.model_id, s.role FROM steps s JOIN runs r "
                                  "ON r.id = s.run_id WHERE s.id=?", [target_id]).fetchone()
            if row is None:
                raise KeyError(target_id)
            run_id, task_type, model_id, role = row
        data = {"target_kind": target_kind, "target_id": target_id, "run_id": run_id, "model_id": model_id,
                "task_type": task_type, "role": role, "score": score, "comment": comment, "correction": correction,
                "created_at": time.time()}
        with self.db.conn:
            self.db["ratings"].insert(data)
        return data

    def add_votes(self, compare_id: str, pairs: list[tuple[str, str, str]], task_type: str | None) -> None:
        now = time.time()
        with self.db.conn:
            self.db.conn.executemany(
                "INSERT INTO votes (compare_id, model_a, model_b, outcome, task_type, created_at) VALUES (?,?,?,?,?,?)",
                [(compare_id, a, b, outcome, task_type, now) for a, b, outcome in pairs],
            )

    def add_event(self, run_id: str | None, type_: str, payload: dict[str, Any]) -> None:
        self._exec("INSERT INTO events (run_id, type, payload_json, created_at) VALUES (?,?,?,?)",
                   [run_id, type_, json.dumps(payload, default=str), time.time()])

    # -- cache ----------------------------------------------------------
    def cache_get(self, key: str) -> dict | None:
        row = self.db.execute("SELECT response_json FROM cache WHERE key=?", [key]).fetchone()
        if row is None:
            return None
        self._exec("UPDATE cache SET hits = hits + 1, last_hit_at=? WHERE key=?", [time.time(), key])
        return json.loads(row[0])

    def cache_put(self, key: str, model_id: str, response: dict) -> None:
        self._exec("INSERT OR REPLACE INTO cache (key, model_id, response_json, created_at, hits) VALUES (?,?,?,?,0)",
                   [key, model_id, json.dumps(response), time.time()])

    def cache_stats(self) -> dict[str, Any]:
        entries, hits = self.db.execute("SELECT COUNT(*), COALESCE(SUM(hits), 0) FROM cache").fetchone()
        cached_requests = self.db.execute("SELECT COUNT(*) FROM requests WHERE cached=1").fetchone()[0]
        total = self.db.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
        return {"entries": entries, "hits": hits, "hit_rate": cached_requests / total if total else 0.0}

    # -- budgets --------------------------------------------------------
    def set_budget(self, period: str, limit_usd: float) -> None:
        self._exec("INSERT OR REPLACE INTO budgets (period, limit_usd) VALUES (?,?)", [period, limit_usd])

    def budgets(self) -> dict[str, float]:
        return dict(self.db.execute("SELECT period, limit_usd FROM budgets").fetchall())

    def spent_for_run(self, run_id: str) -> float:
        return self.db.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM requests WHERE run_id=?", [run_id]).fetchone()[0]

    def spent_since(self, since: float) -> float:
        return self.db.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM requests WHERE created_at >= ?",
                               [since]).fetchone()[0]

    # -- reads ----------------------------------------------------------
    def run(self, run_id: str) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM runs WHERE id=?", [run_id])
        if row is None:
            return None
        row["steps"] = self._all("SELECT * FROM steps WHERE run_id=? ORDER BY idx", [run_id])
        row["ratings"] = self._all("SELECT * FROM ratings WHERE run_id=? ORDER BY id", [run_id])
        row["votes"] = self._all("SELECT * FROM votes WHERE compare_id=? ORDER BY id", [run_id])
        return row

    def history(self, search: str | None = None, limit: int = 50, kind: str | None = None) -> list[dict[str, Any]]:
        sql = ("SELECT r.id, r.kind, r.task, r.chain, r.task_type, r.status, r.started_at, r.finished_at, r.cost_usd,"
               " (SELECT GROUP_CONCAT(DISTINCT s.model_id) FROM steps s WHERE s.run_id = r.id) AS models,"
               " (SELECT AVG(score) FROM ratings g WHERE g.run_id = r.id) AS rating FROM runs r WHERE 1=1")
        params: list[Any] = []
        if search:
            sql += " AND (r.task LIKE ? OR r.id LIKE ? OR r.chain LIKE ?)"
            params += [f"%{search}%"] * 3
        if kind:
            sql += " AND r.kind = ?"
            params.append(kind)
        sql += " ORDER BY r.started_at DESC LIMIT ?"
        params.append(limit)
        return self._all(sql, params)

    def delete_run(self, run_id: str) -> bool:
        with self.db.conn:
            cur = self.db.execute("DELETE FROM runs WHERE id=?", [run_id])
            for table, col in (("steps", "run_id"), ("ratings", "run_id"), ("votes", "compare_id"),
                               ("events", "run_id")):
                self.db.execute(f"DELETE FROM {table} WHERE {col}=?", [run_id])
        return cur.rowcount > 0

    def _one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        cur = self.db.execute(sql, params)
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row)) if row else None

    def _all(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        cur = self.db.execute(sql, params)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()]

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        return self._all(sql, params)


class AsyncLedger:
    """Runs every ledger call on one dedicated thread, so SQLite never blocks the event loop.

    ``submit`` is fire-and-forget: writes queue on the loop and reach the ledger thread as one
    batch ``coalesce_s`` later, so a burst (run + step + request rows as a request goes out)
    wakes the thread once instead of competing with the stream for the GIL three times.
    ``call`` awaits a result, ``flush`` waits until everything submitted so far is written;
    both send queued writes first, so order is always the order of submission.
    """

    def __init__(self, path: str | Path, *, coalesce_s: float = 0.005) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jarvis-ledger")
        self._ledger: Ledger = self._pool.submit(Ledger, path).result()
        self.coalesce_s = coalesce_s
        self._pending: list[tuple[Any, tuple, dict]] = []
        self._drain_handle: asyncio.TimerHandle | None = None
        self._closed = False
        self.errors: list[BaseException] = []

    def submit(self, method: str, *args: Any, **kwargs: Any) -> None:
        self._queue(getattr(self._ledger, method), args, kwargs)

    def submit_fn(self, fn, *args: Any) -> None:
        """Fire-and-forget ``fn(ledger, *args)`` on the ledger thread."""
        self._queue(fn, (self._ledger, *args), {})

    def _queue(self, fn, args: tuple, kwargs: dict) -> None:
        self._pending.append((fn, args, kwargs))
        if self._drain_handle is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (a plain script): write now
                self._drain()
                return
            self._drain_handle = loop.call_later(self.coalesce_s, self._drain)

    def _drain(self) -> None:
        if self._drain_handle is not None:
            self._drain_handle.cancel()
            self._drain_handle = None
        batch, self._pending = self._pending, []
        if batch:
            self._pool.submit(self._run_batch, batch)

    def _run_batch(self, batch: list[tuple[Any, tuple, dict]]) -> None:
        for fn, args, kwargs in batch:
            try:
                fn(*args, **kwargs)
            except Exception as err:  # one bad write must not lose the rest of the batch
                self.errors.append(err)

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        self._drain()
        return await asyncio.wrap_future(self._pool.submit(getattr(self._ledger, method), *args, **kwargs))

    async def call_fn(self, fn, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(ledger, *args, **kwargs)`` on the ledger thread (the performance monitor, feedback)."""
        self._drain()
        return await asyncio.wrap_future(self._pool.submit(fn, self._ledger, *args, **kwargs))

    async def flush(self) -> None:
        self._drain()
        await asyncio.wrap_future(self._pool.submit(lambda: None))

    def close(self) -> None:
        """Write what is queued and close; closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        self._drain()
        self._pool.submit(self._ledger.close).result()
        self._pool.shutdown(wait=True)
