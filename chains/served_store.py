"""Served requests and serving processes in the ledger (columns and table made by migrations.m008_served).

Functions of a `Ledger`, run on the ledger's thread (`AsyncLedger.submit_fn` / `call_fn`), like
chains.eval_store. A served request is a normal run (kind "served") with its steps and requests, so
scores, the leaderboard and History see it like any other; these add who asked, for which model, and
what HTTP status the client got. Never a header value other than the User-Agent, never a token.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .ledger import Ledger, pid_alive

#: A server whose heartbeat is older than this is gone (killed without stopping), whatever its pid says.
STALE_AFTER_S = 15.0
#: The HTTP status a served request gets when its client went away before the answer was complete.
CLIENT_CLOSED = 499


def mark_served(ledger: Ledger, run_id: str, *, client: str | None, requested_model: str) -> None:
    ledger.db.execute(
        "UPDATE runs SET client=?, requested_model=? WHERE id=?",
        [(client or "")[:200], requested_model, run_id],
    )
    ledger.db.conn.commit()


def set_http_status(ledger: Ledger, run_id: str, status: int) -> None:
    ledger.db.execute("UPDATE runs SET http_status=? WHERE id=?", [status, run_id])
    ledger.db.conn.commit()


def heartbeat(
    ledger: Ledger, *, host: str, port: int, started_at: float, in_flight: int, queued: int, served: int
) -> None:
    """This process serves at host:port now, with these many requests in flight and queued."""
    with ledger.db.conn:
        ledger.db.execute(
            "INSERT INTO servers (pid, host, port, started_at, heartbeat_at, in_flight, queued, served)"
            " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(pid) DO UPDATE SET host=excluded.host,"
            " port=excluded.port, started_at=excluded.started_at, heartbeat_at=excluded.heartbeat_at,"
            " in_flight=excluded.in_flight, queued=excluded.queued, served=excluded.served",
            [os.getpid(), host, port, started_at, ledger.clock.time(), in_flight, queued, served],
        )


def stop_serving(ledger: Ledger) -> None:
    with ledger.db.conn:
        ledger.db.execute("DELETE FROM servers WHERE pid=?", [os.getpid()])


@dataclass(frozen=True)
class LiveServer:
    pid: int
    host: str
    port: int
    in_flight: int
    queued: int
    served: int

    def status_text(self) -> str:
        """The status line's words: "serving :11435 · 2 in flight · 1 queued"."""
        parts = [f"serving :{self.port}"]
        if self.in_flight:
            parts.append(f"{self.in_flight} in flight")
        if self.queued:
            parts.append(f"{self.queued} queued")
        return " · ".join(parts)


def live_servers(ledger: Ledger) -> list[LiveServer]:
    """Serving processes that are alive and beat recently (this one included)."""
    since = ledger.clock.time() - STALE_AFTER_S
    rows = ledger.db.execute(
        "SELECT pid, host, port, in_flight, queued, served FROM servers WHERE heartbeat_at >= ?"
        " ORDER BY port",
        [since],
    ).fetchall()
    return [LiveServer(*row) for row in rows if pid_alive(row[0])]


def served_history(ledger: Ledger, search: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Served requests, newest first, shaped like `Ledger.history` rows (History lists them), plus who sent
    each (``client``), the model it asked for and its HTTP status."""
    sql = (
        "SELECT r.*, (SELECT GROUP_CONCAT(DISTINCT s.model_id) FROM steps s WHERE s.run_id = r.id) AS models,"
        " (SELECT AVG(score) FROM ratings g WHERE g.run_id = r.id) AS rating"
        " FROM runs r WHERE r.requested_model IS NOT NULL"
    )
    params: list[Any] = []
    if search:
        sql += " AND (r.task LIKE ? OR r.id LIKE ? OR r.client LIKE ? OR r.requested_model LIKE ?)"
        params += [f"%{search}%"] * 4
    sql += " ORDER BY r.started_at DESC LIMIT ?"
    rows = ledger.query(sql, [*params, limit])
    for row in rows:
        row["thread_id"] = row.get("thread_id") or row["id"]
        row["turn"] = row.get("turn") or 1
        row.setdefault("parent_run_id", None)
    return rows
