"""One turn of a thread as the ledger returns it (runs.thread_id, parent_run_id, turn; migration m006)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

#: The columns ThreadTurn.from_row reads, for the ledger's queries (r: the runs table).
TURN_COLUMNS = (
    "r.id, r.kind, COALESCE(r.thread_id, r.id) AS thread_id, r.parent_run_id, COALESCE(r.turn, 1) AS turn,"
    " r.task, r.chain, r.status, r.started_at, r.error, r.options_json,"
    " (SELECT GROUP_CONCAT(DISTINCT s.model_id) FROM steps s WHERE s.run_id = r.id) AS models,"
    " (SELECT AVG(score) FROM ratings g WHERE g.run_id = r.id) AS rating"
)


@dataclass(frozen=True)
class ThreadTurn:
    run_id: str
    kind: str
    thread_id: str
    parent_run_id: str | None
    turn: int
    task: str
    chain: str | None
    status: str
    started_at: float
    error: str | None = None
    #: The options the run was started with (chain, model, strategy, ...), as stored.
    options: dict[str, Any] = field(default_factory=dict)
    models: str | None = None
    rating: float | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ThreadTurn:
        return cls(
            run_id=row["id"],
            kind=row["kind"],
            thread_id=row["thread_id"],
            parent_run_id=row["parent_run_id"],
            turn=int(row["turn"]),
            task=row["task"],
            chain=row["chain"],
            status=row["status"],
            started_at=row["started_at"],
            error=row["error"],
            options=json.loads(row["options_json"]) if row.get("options_json") else {},
            models=row["models"],
            rating=row["rating"],
        )

    @property
    def forked(self) -> bool:
        """The first turn of a thread forked from another thread's turn."""
        return self.parent_run_id is not None and self.thread_id == self.run_id

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "thread_id": self.thread_id,
            "parent_run_id": self.parent_run_id,
            "turn": self.turn,
            "task": self.task,
            "chain": self.chain,
            "status": self.status,
            "started_at": self.started_at,
            "models": self.models.split(",") if self.models else [],
            "rating": self.rating,
        }
