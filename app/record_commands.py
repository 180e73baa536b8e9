"""Commands on what the ledger recorded: `rate`, `vote`, `stats`, `history`, `export`."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from .exit_codes import EXIT_OK, EXIT_USAGE
from .output import emit_json, fail, print_table
from .text_input import InputError, text_file

if TYPE_CHECKING:
    from jarvis.chains.ledger import Ledger

# The engine's modules are imported inside each command: `jarvis --help` and the others do not pay for them.


def register(add: Callable[[str, str], argparse.ArgumentParser]) -> None:
    p = add("rate", "rate a run or one of its steps from 1 to 5")
    p.add_argument("target", help="a run id (run_...) or step id (step_...)")
    p.add_argument("score", type=int, choices=range(1, 6), metavar="1-5")
    p.add_argument("--comment")
    p.add_argument("--correction-file", help="a file with the answer as it should have been")
    p.set_defaults(handler=cmd_rate)

    p = add("vote", "vote on a comparison")
    p.add_argument("compare_id")
    p.add_argument("winner", choices=["A", "B", "C", "D", "tie", "bad"])
    p.set_defaults(handler=cmd_vote)

    p = add("stats", "performance, leaderboard, costs and budgets")
    p.add_argument("--task-type")
    p.add_argument("--since", help="YYYY-MM-DD, or a number of days (e.g. 7)")
    p.add_argument(
        "--by", default="model", choices=["model", "provider", "task_type", "day"], help="group costs by"
    )
    p.set_defaults(handler=cmd_stats)

    p = add("history", "past runs and comparisons, newest first")
    p.add_argument("--search")
    p.add_argument("--limit", type=int, default=30)
    p.set_defaults(handler=cmd_history)

    p = add("export", "a run as Markdown or JSON")
    p.add_argument("run_id")
    p.add_argument("--format", choices=["md", "json"], default="md")
    p.add_argument(
        "--tests-dir",
        metavar="DIR",
        help="a verified run: write its code (solution.py) and checks (test_solution.py) into DIR",
    )
    p.set_defaults(handler=cmd_export)


def open_ledger(paths) -> Ledger:
    """The ledger, synchronously, with runs a killed process left open marked interrupted."""
    from jarvis.chains.ledger import Ledger

    ledger = Ledger(paths.database)
    ledger.recover_interrupted()
    return ledger


# -- feedback ----------------------------------------------------------------
def cmd_rate(config, paths, args) -> int:
    from jarvis.chains import feedback

    correction = None
    if args.correction_file:
        try:
            correction = text_file(args.correction_file)
        except InputError as err:
            return fail(str(err), EXIT_USAGE)
    try:
        rating = feedback.rate(
            open_ledger(paths), args.target, args.score, comment=args.comment, correction=correction
        )
    except feedback.FeedbackError as err:
        return fail(str(err), EXIT_USAGE)
    if args.json:
        emit_json({"rating": rating})
    else:
        who = rating["model_id"] or "the run"
        print(f"Rated {args.target} {args.score}/5 for {who} ({rating['task_type']}).")
    return EXIT_OK


def cmd_vote(config, paths, args) -> int:
    from jarvis.chains import feedback

    try:
        result = feedback.vote(open_ledger(paths), args.compare_id, args.winner)
    except feedback.FeedbackError as err:
        return fail(str(err), EXIT_USAGE)
    if args.json:
        emit_json({k: result[k] for k in ("compare_id", "winner", "models", "pairs")})
    else:
        models = result["models"]
        labelled = ", ".join(f"{chr(65 + i)}={m}" for i, m in enumerate(models))
        print(f"Vote counted: {args.winner} ({labelled}).")
    return EXIT_OK


# -- stats, history, export ----------------------------------------------------
def _since(value: str | None) -> float | None:
    """``--since`` as a timestamp; ValueError when it is neither a date nor a number of days."""
    if not value:
        return None
    if value.isdigit():
        return time.time() - int(value) * 86400
    return datetime.strptime(value, "%Y-%m-%d").timestamp()


def cmd_stats(config, paths, args) -> int:
    try:
        since = _since(args.since)
    except ValueError:
        return fail(f"--since takes YYYY-MM-DD or a number of days, not '{args.since}'.", EXIT_USAGE)
    from jarvis.chains.costs import budget_status, cost_report
    from jarvis.chains.scores import PerformanceMonitor

    ledger = open_ledger(paths)
    monitor = PerformanceMonitor(ledger)
    doc = {
        "performance": monitor.table(args.task_type, since=since),
        "leaderboard": monitor.leaderboard(args.task_type),
        "costs": cost_report(ledger, args.by, since or 0.0),
        "budgets": budget_status(ledger),
        "cache": ledger.cache_stats(),
    }
    if args.json:
        emit_json(doc)
        return EXIT_OK
    print("Performance" + (f" ({args.task_type})" if args.task_type else ""))
    # Cancels are the user's, not the model's: their own column, outside REQ and OK%.
    rows = [("MODEL", "TASK", "REQ", "OK%", "CANCELLED", "P50 s", "P95 s", "TTFT ms", "TOK/S", "RATING (n)")]
    for r in doc["performance"]:
        rows.append(
            (
                r["model"],
                r["task_type"] or "-",
                str(r["requests"]),
                f"{100 * r['success_rate']:.0f}" if r["success_rate"] is not None else "-",
                str(r.get("cancelled") or 0),
                _f(r["latency_p50"]),
                _f(r["latency_p95"]),
                f"{r['ttft_p50'] * 1000:.0f}" if r["ttft_p50"] else "-",
                _f(r["tokens_per_s_p50"], 0),
                f"{r['rating_mean']:.2f} ({r['ratings']})" if r["rating_mean"] else "-",
            )
        )
    print_table(rows)
    print("\nLeaderboard (Bradley-Terry, 95 % interval)")
    rows = [("MODEL", "RATING", "95% CI", "VOTES")]
    rows += [
        (s["model"], f"{s['rating']:.0f}", f"{s['ci95'][0]:.0f}-{s['ci95'][1]:.0f}", str(s["votes"]))
        for s in doc["leaderboard"]
    ]
    if len(rows) > 1:
        print_table(rows)
    else:
        print("  no votes yet: jarvis compare ... then jarvis vote")
    print(f"\nCosts by {args.by}")
    rows = [("KEY", "REQUESTS", "COST $")] + [
        (str(c["key"]), str(c["requests"]), f"{c['cost_usd']:.4f}") for c in doc["costs"]
    ]
    print_table(rows)
    for b in doc["budgets"]:
        limit = f"${b['limit_usd']:.2f}" if b["limit_usd"] is not None else "no limit"
        exhausted = " (exhausted)" if b["exhausted"] else ""
        print(f"{b['period']} budget: {limit}, spent ${b['spent_usd']:.4f}{exhausted}")
    return EXIT_OK


def _f(v, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def cmd_history(config, paths, args) -> int:
    rows = open_ledger(paths).history(args.search, args.limit)
    if args.json:
        emit_json({"runs": rows})
        return EXIT_OK
    from .thread_rows import thread_order

    table = [("ID", "WHEN", "KIND", "STATUS", "MODELS", "RATING", "TASK")]
    for r, mark in thread_order(rows):  # a thread's turns together, under its first run
        when = datetime.fromtimestamp(r["started_at"]).strftime("%Y-%m-%d %H:%M")
        task = mark + r["task"].replace("\n", " ")
        rating = f"{r['rating']:.1f}" if r["rating"] else "-"
        short = task[:50] + ("…" if len(task) > 50 else "")
        table.append((r["id"], when, r["chain"] or r["kind"], r["status"], r["models"] or "-", rating, short))
    if rows:
        print_table(table)
    else:
        print('No runs yet. Try: jarvis run "Write a function that reverses a string"')
    return EXIT_OK


def cmd_export(config, paths, args) -> int:
    from jarvis.chains.verify.store import verification_of

    ledger = open_ledger(paths)
    run = ledger.run(args.run_id)
    if run is None:
        return fail(f"no run with id {args.run_id} (see `jarvis history`).", EXIT_USAGE)
    run["verification"] = verification_of(ledger, run["id"])
    if args.tests_dir:
        from .verify_export import ExportError, write_tests

        try:
            written = write_tests(run, args.tests_dir)
        except ExportError as err:
            return fail(str(err), EXIT_USAGE)
        print("\n".join(str(p) for p in written))
        return EXIT_OK
    from .thread_export import export_text

    # A turn of a thread is exported with every turn of it (chains.threads).
    print(export_text(ledger, run, args.format == "json" or args.json))
    return EXIT_OK
