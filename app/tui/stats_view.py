"""Leaderboard & stats: Bradley-Terry ranking with intervals, ratings, latency, success, costs, trends,
and the `jarvis eval` runs with the matrix of the latest."""

from __future__ import annotations

from datetime import datetime

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Label, Sparkline, Static

from jarvis.chains.analyzer import TASK_TYPES

from .choice import Choice
from .eval_bar import EvalBar


def _f(v, fmt: str = "{:.2f}") -> str:
    return "-" if v is None else fmt.format(v)


class StatsView(VerticalScroll):
    DEFAULT_CSS = """
    StatsView DataTable { height: auto; max-height: 14; margin-bottom: 1; }
    StatsView .section { text-style: bold; margin-top: 1; }
    StatsView Sparkline { height: 2; margin-bottom: 1; }
    StatsView #stats-bar { height: 3; }
    StatsView #stats-bar Label { padding: 1 0; }
    StatsView #stats-task { width: 24; }
    StatsView #budget { color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        with Horizontal(id="stats-bar"):
            yield Label("task type ")
            yield Choice([("all task types", ""), *((t, t) for t in TASK_TYPES)], id="stats-task")
        yield Static("Leaderboard (Bradley–Terry from your votes, 95 % interval)", classes="section")
        yield DataTable(id="leaderboard", cursor_type="row")
        yield Static("Performance", classes="section")
        yield DataTable(id="performance", cursor_type="row")
        yield Static("Requests per day (all models)", classes="section")
        yield Sparkline([0], id="trend")
        yield Static("Costs by model", classes="section")
        yield DataTable(id="costs", cursor_type="row")
        yield Static("", id="budget", markup=False)
        yield Static("Eval runs (here, or jarvis eval SUITE -m MODEL --chain CHAIN)", classes="section")
        yield EvalBar(id="eval-bar")
        yield DataTable(id="evals", cursor_type="row")
        yield Static("No eval run yet.", id="eval-title", classes="section", markup=False)
        yield DataTable(id="eval-matrix", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#leaderboard", DataTable).add_columns(
            "#", "model", "rating", "95% CI", "votes", "wins"
        )
        self.query_one("#performance", DataTable).add_columns(
            "model", "task", "requests", "ok %", "p50 s", "p95 s", "p99 s", "TTFT ms", "tok/s", "rating (n)"
        )
        self.query_one("#costs", DataTable).add_columns(
            "model", "requests", "cost $", "tokens in", "tokens out"
        )
        self.query_one("#evals", DataTable).add_columns(
            "id", "suite", "when", "status", "models × chains", "tasks", "passed/ran"
        )
        from jarvis.chains.eval_matrix import MATRIX_HEADER  # plain data: no engine is started by it

        self.query_one("#eval-matrix", DataTable).add_columns(*MATRIX_HEADER)
        self.app.view_mounted(self)

    def on_worker_state_changed(self, event) -> None:
        self.app.worker_changed(event)  # worker messages do not bubble: the app says which one failed

    @on(Choice.Changed, "#stats-task")
    def task_changed(self) -> None:
        self.reload()

    @work(group="stats", exclusive=True, exit_on_error=False, description="load stats")
    async def reload(self) -> None:
        if self.app.engine is None:
            return
        task_type = self.query_one("#stats-task", Choice).value or None

        def gather(ledger, task_type):
            from jarvis.chains.costs import budget_status, cost_report
            from jarvis.chains.scores import PerformanceMonitor

            monitor = PerformanceMonitor(ledger)
            return (
                monitor.leaderboard(task_type, rounds=300),
                monitor.table(task_type),
                monitor.trends(task_type=task_type),
                cost_report(ledger, "model"),
                budget_status(ledger),
                _evals(ledger),
            )

        board, perf, trends, costs, budgets, evals = await self.app.engine.ledger.call_fn(gather, task_type)
        self._show_evals(evals)
        lb = self.query_one("#leaderboard", DataTable)
        lb.clear()
        for i, s in enumerate(board, 1):
            lb.add_row(
                str(i),
                s["model"],
                f"{s['rating']:.0f}",
                f"{s['ci95'][0]:.0f}–{s['ci95'][1]:.0f}",
                str(s["votes"]),
                f"{s['wins']:g}",
            )
        pt = self.query_one("#performance", DataTable)
        pt.clear()
        for r in perf:
            pt.add_row(
                r["model"],
                r["task_type"] or "-",
                str(r["requests"]),
                _f(r["success_rate"] and 100 * r["success_rate"], "{:.0f}"),
                _f(r["latency_p50"]),
                _f(r["latency_p95"]),
                _f(r["latency_p99"]),
                _f(r["ttft_p50"] and 1000 * r["ttft_p50"], "{:.0f}"),
                _f(r["tokens_per_s_p50"], "{:.0f}"),
                f"{r['rating_mean']:.2f} ({r['ratings']})" if r["rating_mean"] else "-",
            )
        per_day: dict[str, int] = {}
        for t in trends:
            per_day[t["period"]] = per_day.get(t["period"], 0) + t["requests"]
        self.query_one("#trend", Sparkline).data = list(per_day.values())[-30:] or [0]
        ct = self.query_one("#costs", DataTable)
        ct.clear()
        for c in costs:
            ct.add_row(
                str(c["key"]),
                str(c["requests"]),
                f"{c['cost_usd']:.4f}",
                str(c["prompt_tokens"]),
                str(c["completion_tokens"]),
            )

        def budget(b: dict) -> str:
            limit = "none" if b["limit_usd"] is None else f"${b['limit_usd']:.2f}"
            return f"{b['period']} budget {limit}, spent ${b['spent_usd']:.4f}" + (
                " (exhausted)" if b["exhausted"] else ""
            )

        self.query_one("#budget", Static).update(" · ".join(budget(b) for b in budgets))

    def _show_evals(self, evals: list[dict]) -> None:
        from jarvis.chains.eval_matrix import matrix

        table = self.query_one("#evals", DataTable)
        table.clear()
        for e in evals:
            when = datetime.fromtimestamp(e["started_at"]).strftime("%m-%d %H:%M")
            grid = f"{', '.join(e['models'])} × {', '.join(e['chains'])}"
            passed = sum(r["passed"] for r in e["results"])
            table.add_row(
                e["id"],
                e["suite"],
                when,
                e["status"],
                grid,
                str(e["task_count"]),
                f"{passed}/{len(e['results'])}",
            )
        cells = self.query_one("#eval-matrix", DataTable)
        cells.clear()
        if not evals:
            self.query_one("#eval-title", Static).update("No eval run yet.")
            return
        latest = evals[0]
        self.query_one("#eval-title", Static).update(
            f"Matrix of the latest eval ({latest['id']}, {latest['suite']}, sandbox {latest['tier'] or '-'})"
        )
        for cell in matrix([_task_result(r) for r in latest["results"]]):
            cells.add_row(*cell.row())


def _evals(ledger, limit: int = 10) -> list[dict]:
    """The latest eval runs, newest first, each with its models, chains and per-task results."""
    from jarvis.chains.eval_store import eval_run, eval_runs

    return [run for e in eval_runs(ledger, limit) if (run := eval_run(ledger, e["id"])) is not None]


def _task_result(row: dict):
    """A stored eval result (chains.eval_store) as the TaskResult the matrix adds up."""
    from jarvis.chains.eval_matrix import TaskResult

    return TaskResult(
        task_id=row["task_id"],
        model=row["model_id"],
        chain=row["chain"],
        passed=row["passed"],
        reason=row["reason"] or "",
        tokens=row["tokens"] or 0,
        seconds=row["seconds"] or 0.0,
        check_seconds=row["check_seconds"] or 0.0,
        tier=row["tier"],
        run_id=row["run_id"],
        task_type=row["task_type"],
        checks_passed=row["checks_passed"] or 0,
        checks_total=row["checks_total"] or 0,
    )
