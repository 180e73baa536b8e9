"""PerformanceMonitor: per model × task type (× role) success, latency percentiles, TTFT, tokens/s,
ratings shrunk toward the prior, trends; and the stats snapshot the selection engine reads."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from .leaderboard import bradley_terry
from .ledger import Ledger
from .selection import ModelStats

#: A rating mean is shrunk toward this prior, as if it came with PRIOR_WEIGHT extra ratings.
PRIOR_RATING = 3.0
PRIOR_WEIGHT = 3.0
#: Only recent requests count for latency and reliability.
WINDOW_S = 90 * 24 * 3600
#: The role an eval task's verdict is counted under (by_role tables).
EVAL_ROLE = "eval"


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def _reset_at(resets: dict[tuple[str, str], float], model: str, task_type: str | None) -> float:
    """When this model's scores for this task type (or all task types) were last reset."""
    return max(resets.get((model, task_type or ""), 0), resets.get((model, "*"), 0))


def shrunk_mean(total: float, n: int) -> float | None:
    if n == 0:
        return None
    return (total + PRIOR_RATING * PRIOR_WEIGHT) / (n + PRIOR_WEIGHT)


class PerformanceMonitor:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def _resets(self) -> dict[tuple[str, str], float]:
        return {
            (m, t): at
            for m, t, at in self.ledger.db.execute(
                "SELECT model_id, task_type, reset_at FROM score_resets"
            ).fetchall()
        }

    def reset(self, model_id: str, task_type: str = "*") -> None:
        """Forget a model's measurements for one task type ('*': all) from now on."""
        with self.ledger.db.conn:
            self.ledger.db.execute(
                "INSERT OR REPLACE INTO score_resets (model_id, task_type, reset_at) VALUES (?,?,?)",
                [model_id, task_type, self.ledger.clock.time()],
            )

    def table(
        self,
        task_type: str | None = None,
        role: str | None = None,
        since: float | None = None,
        by_role: bool = False,
    ) -> list[dict[str, Any]]:
        """One row per model (× task type, × role if asked): the numbers the Stats screen shows."""
        since = since if since is not None else self.ledger.clock.time() - WINDOW_S
        sql = (
            "SELECT model_id, task_type, role, status, ttft_s, tokens_per_s, latency_s, created_at"
            " FROM requests WHERE created_at >= ? AND cached = 0"
        )
        params: list[Any] = [since]
        if task_type:
            sql += " AND task_type = ?"
            params.append(task_type)
        if role:
            sql += " AND role = ?"
            params.append(role)
        resets = self._resets()
        groups: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        for model, ttype, rrole, status, ttft, tps, lat, at in self.ledger.db.execute(sql, params).fetchall():
            if at < _reset_at(resets, model, ttype):
                continue
            g = groups[(model, ttype, rrole if by_role else None)]
            g["status"].append(status)
            if status == "ok":
                for name, v in (("ttft", ttft), ("tps", tps), ("lat", lat)):
                    if v is not None:
                        g[name].append(v)
        if role in (None, EVAL_ROLE):
            # A `jarvis eval` task is a measured success (its code passed the suite's checks) or failure.
            for model, ttype, passed, at in self._eval_results(since, task_type):
                if at >= _reset_at(resets, model, ttype):
                    groups[(model, ttype, EVAL_ROLE if by_role else None)]["status"].append(
                        "ok" if passed else "failed"
                    )
        ratings = self._ratings(task_type, resets)
        rows = []
        for (model, ttype, rrole), g in sorted(groups.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
            # The user's cancel is not the model's fault: cancels are counted, not held against reliability.
            cancelled = g["status"].count("cancelled")
            n = len(g["status"]) - cancelled
            ok = g["status"].count("ok")
            total, count = ratings.get((model, ttype), (0.0, 0))
            rows.append(
                {
                    "model": model,
                    "task_type": ttype,
                    "role": rrole,
                    "requests": n,
                    "successes": ok,
                    "success_rate": ok / n if n else None,
                    "cancelled": cancelled,
                    "latency_p50": percentile(g["lat"], 0.5),
                    "latency_p95": percentile(g["lat"], 0.95),
                    "latency_p99": percentile(g["lat"], 0.99),
                    "ttft_p50": percentile(g["ttft"], 0.5),
                    "tokens_per_s_p50": percentile(g["tps"], 0.5),
                    "rating_mean": shrunk_mean(total, count),
                    "ratings": count,
                }
            )
        return rows

    def _eval_results(self, since: float, task_type: str | None) -> list[tuple[str, str, int, float]]:
        sql = "SELECT model_id, task_type, passed, created_at FROM eval_results WHERE created_at >= ?"
        params: list[Any] = [since]
        if task_type:
            sql += " AND task_type = ?"
            params.append(task_type)
        return self.ledger.db.execute(sql, params).fetchall()

    def _ratings(
        self, task_type: str | None, resets: dict[tuple[str, str], float]
    ) -> dict[tuple[str, str | None], tuple[float, int]]:
        sql = "SELECT model_id, task_type, score, created_at FROM ratings WHERE model_id IS NOT NULL"
        params: list[Any] = []
        if task_type:
            sql += " AND task_type = ?"
            params.append(task_type)
        out: dict[tuple[str, str | None], tuple[float, int]] = {}
        for model, ttype, score, at in self.ledger.db.execute(sql, params).fetchall():
            if at < _reset_at(resets, model, ttype):
                continue
            total, n = out.get((model, ttype), (0.0, 0))
            out[(model, ttype)] = (total + score, n + 1)
        return out

    def snapshot(self, task_type: str) -> dict[str, ModelStats]:
        """What selection reads for one task type: measurements, ratings and vote strengths."""
        stats: dict[str, dict[str, Any]] = {}
        for row in self.table(task_type):
            stats[row["model"]] = {
                "requests": row["requests"],
                "successes": row["successes"],
                "ttft_p50": row["ttft_p50"],
                "tokens_per_s_p50": row["tokens_per_s_p50"],
                "latency_p50": row["latency_p50"],
            }
        for (model, _), (total, n) in self._ratings(task_type, self._resets()).items():
            stats.setdefault(model, {}).update(rating_mean=shrunk_mean(total, n), ratings=n)
        votes = self.ledger.db.execute(
            "SELECT model_a, model_b, outcome FROM votes WHERE task_type = ?", [task_type]
        ).fetchall()
        for standing in bradley_terry(votes, rounds=0):
            stats.setdefault(standing.model, {}).update(strength=standing.strength, votes=standing.votes)
        return {m: ModelStats(**v) for m, v in stats.items()}

    def trends(
        self, model_id: str | None = None, period: str = "day", task_type: str | None = None
    ) -> list[dict]:
        fmt = {"day": "%Y-%m-%d", "week": "%Y-W%W", "month": "%Y-%m"}.get(period)
        if fmt is None:
            raise ValueError("Trend period is day, week or month.")
        sql = (
            f"SELECT strftime('{fmt}', created_at, 'unixepoch', 'localtime') AS period, model_id AS model,"
            " SUM(status != 'cancelled') AS requests, SUM(status = 'cancelled') AS cancelled,"
            " AVG(CASE WHEN status = 'cancelled' THEN NULL ELSE status = 'ok' END) AS success_rate,"
            " AVG(latency_s) AS latency_mean,"
            " AVG(tokens_per_s) AS tokens_per_s_mean FROM requests WHERE cached = 0"
        )
        params: list[Any] = []
        if model_id:
            sql += " AND model_id = ?"
            params.append(model_id)
        if task_type:
            sql += " AND task_type = ?"
            params.append(task_type)
        sql += " GROUP BY period, model ORDER BY period, model"
        return self.ledger.query(sql, params)

    def leaderboard(self, task_type: str | None = None, rounds: int = 1000) -> list[dict[str, Any]]:
        sql, params = "SELECT model_a, model_b, outcome FROM votes", []
        if task_type:
            sql += " WHERE task_type = ?"
            params.append(task_type)
        votes = self.ledger.db.execute(sql, params).fetchall()
        return [s.as_json() for s in bradley_terry(votes, rounds=rounds)]
