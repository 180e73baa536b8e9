"""Budgets and cost reports: daily and monthly limits that block cloud fallbacks once spent."""

from __future__ import annotations

import time
from datetime import datetime

from .ledger import Ledger

PERIODS = ("daily", "monthly")


def period_start(period: str, now: float | None = None) -> float:
    t = datetime.fromtimestamp(now if now is not None else time.time())
    if period == "daily":
        start = t.replace(hour=0, minute=0, second=0, microsecond=0)
    elif period == "monthly":
        start = t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    else:
        raise ValueError(f"Unknown budget period '{period}': use daily or monthly.")
    return start.timestamp()


def budget_status(ledger: Ledger, now: float | None = None) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    now = ledger.clock.time() if now is None else now
    limits = ledger.budgets()
    for period in PERIODS:
        spent = ledger.spent_since(period_start(period, now))
        limit = limits.get(period)
        out.append(
            {
                "period": period,
                "limit_usd": limit,
                "spent_usd": round(spent, 6),
                "exhausted": limit is not None and spent >= limit,
            }
        )
    return out


def within_budget(ledger: Ledger, now: float | None = None) -> bool:
    return not any(b["exhausted"] for b in budget_status(ledger, now))


def cost_report(ledger: Ledger, group_by: str = "model", since: float = 0.0) -> list[dict[str, object]]:
    column = {
        "model": "model_id",
        "provider": "provider",
        "task_type": "task_type",
        "day": "date(created_at, 'unixepoch', 'localtime')",
    }.get(group_by)
    if column is None:
        raise ValueError("Group costs by model, provider, task_type or day.")
    return ledger.query(
        f"SELECT {column} AS key, COUNT(*) AS requests, ROUND(SUM(cost_usd), 6) AS cost_usd,"
        " SUM(COALESCE(prompt_tokens,0)) AS prompt_tokens,"
        " SUM(COALESCE(completion_tokens,0)) AS completion_tokens"
        " FROM requests WHERE created_at >= ? GROUP BY key ORDER BY cost_usd DESC, requests DESC",
        [since],
    )
