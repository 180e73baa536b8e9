"""What a verified run shows as it goes: the checks found, each candidate's results, the verdict.

Typed like chains.events (the TUI and CLI render them; a renderer that does not know them skips them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..events import Event


@dataclass(frozen=True, slots=True)
class ChecksFound(Event):
    """The checks a run will use, each with its source (given / extracted), as Check.to_json() + display."""

    checks: tuple[dict[str, Any], ...]
    entry_point: str | None
    tier: str
    limits: str


@dataclass(frozen=True, slots=True)
class CandidateChecked(Event):
    """One candidate run against the checks: `lines` is a ✓/✗ line per check (with the failure)."""

    step_id: str | None
    candidate: int
    label: str  # "candidate 2/4", "repair of candidate 1 (round 1)"
    passed: int
    total: int
    lines: tuple[str, ...]
    seconds: float
    kept: bool = True
    note: str = ""


@dataclass(frozen=True, slots=True)
class VerificationFinished(Event):
    """The verdict: `status` is "verified: N given + M extracted checks passed" or "unverified: why";
    `record` is what the ledger keeps (Pick.to_record plus rounds, model calls and budgets)."""

    status: str
    verified: bool
    winner: int
    reason: str
    tier: str
    candidates: int
    rounds: int
    record: dict[str, Any]
