"""The engine's headless commands: run, compare, rate, vote, stats, history, export, policy, budget."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime
from pathlib import Path

from jarvis.chains import feedback
from jarvis.chains.costs import budget_status, cost_report
from jarvis.chains.events import (FallbackTaken, Notice, RunCancelled, RunFailed, RunFinished, StepFinished,
                                  StepStarted, TokenDelta)
from jarvis.chains.ledger import Ledger
from jarvis.chains.orchestrator import RunOptions
from jarvis.chains.policies import Policy, PolicyError, load_policies, save_policies
from jarvis.chains.scores import PerformanceMonitor
from jarvis.providers.types import GenerationOptions

from .cli import EXIT_CANCELLED, EXIT_FAILED, EXIT_NO_MODEL, EXIT_OK, EXIT_USAGE
from .commands import fail, print_table
from .engine import build_engine
from .export import run_as_json, run_as_markdown


def _emit(doc: dict) -> None:
    print(json.dumps(doc, indent=2, default=str))


def _ledger(paths) -> Ledger:
    ledger = Ledger(paths.database)
    ledger.recover_interrupted()
    return ledger


# -- run -------------------------------------------------------------------
def cmd_run(config, paths, args) -> int:
    task = sys.stdin.read() if args.task == "-" else args.task
    if not task.strip():
        return fail("the task is empty.", EXIT_USAGE)
    overrides = {k: v for k, v in (("max_tokens", args.max_tokens), ("seed", args.seed)) if v is not None}
    options = RunOptions(chain=args.chain, model=args.model, strategy=args.strategy, max_rounds=args.rounds,
                         use_cache=not args.no_cache, overrides=overrides)
    return asyncio.run(_run(config, paths, task, options, args.json))


async def _run(config, paths, task: str, options: RunOptions, as_json: bool) -> int:
    engine = await build_engine(config, paths).start()
    engine.runner.use_cache = options.use_cache
    last = None
    try:
        async for event in engine.orchestrator.run(task, options):
            last = event
            if not as_json:
                _render(event)
        await engine.ledger.flush()
        run = await engine.ledger.call("run", last.run_id) if last else None
    finally:
        await engine.close()
    if as_json:
        doc = run_as_json(run) if run else {"status": "failed"}
        if isinstance(last, RunFailed):
            doc["error"] = {"message": last.message, "kind": last.kind}
        _emit(doc)
    return _exit_code(last)


def _exit_code(last) -> int:
    if isinstance(last, RunFinished):
        return EXIT_OK
    if isinstance(last, RunCancelled):
        return EXIT_CANCELLED
    if isinstance(last, RunFailed):
        return {"no_model": EXIT_NO_MODEL, "usage": EXIT_USAGE}.get(last.kind, EXIT_FAILED)
    return EXIT_FAILED


def _render(event) -> None:
    out, err = sys.stdout, sys.stderr
    if isinstance(event, StepStarted):
        label = event.role + (f" (round {event.round})" if event.round else "")
        err.write(f"\n── {label} · {event.model_id} ── {event.reason}\n")
    elif isinstance(event, TokenDelta):
        out.write(event.text)
        out.flush()
    elif isinstance(event, StepFinished):
        u = event.usage
        if event.status == "completed":
            tps = f"{u['tokens_per_s']:.0f} tok/s" if u.get("tokens_per_s") else "-"
            ttft = f"{u['ttft_s'] * 1000:.0f} ms" if u.get("ttft_s") else "-"
            err.write(f"\n   [{event.model_id}: {u.get('completion_tokens')} tokens, first token {ttft}, {tps}]\n")
    elif isinstance(event, Notice):
        err.write(f"\n! {event.text}\n")
    elif isinstance(event, FallbackTaken):
        to = f"trying {event.to_model}" if event.to_model else "no model left to try"
        kept = f" ({len(event.partial_text)} characters kept)" if event.partial_text else ""
        err.write(f"\n! {event.from_model} failed: {event.message}{kept}; {to}.\n")
    elif isinstance(event, RunFinished):
        blocks = event.result.get("code_blocks") or event.result.get("answers") or []
        err.write(f"\n✓ {event.run_id} finished in {event.total_s:.1f} s, cost ${event.cost_usd:.4f}"
                  f"{f', {len(blocks)} code block(s)' if 'code_blocks' in event.result else ''}."
                  f" Rate it: jarvis rate {event.run_id} 1-5\n")
    elif isinstance(event, RunFailed):
        err.write(f"\n✗ {event.message}\n")
    elif isinstance(event, RunCancelled):
        err.write(f"\n✗ {event.run_id} cancelled.\n")


# -- compare ---------------------------------------------------------------
def cmd_compare(config, paths, args) -> int:
    if not 2 <= len(args.models) <= 4:
        return fail("compare takes 2 to 4 models (-m ID -m ID ...).", EXIT_USAGE)
    options = GenerationOptions(max_tokens=args.max_tokens, temperature=args.temperature, seed=args.seed)
    return asyncio.run(_compare(config, paths, args.prompt, args.models, options, args.json))


async def _compare(config, paths, prompt, models, options, as_json: bool) -> int:
    engine = await build_engine(config, paths).start()
    last = None
    try:
        async for event in engine.orchestrator.compare(prompt, models, options):
            last = event
            if as_json:
                continue
            if isinstance(event, StepStarted):
                sys.stderr.write(f"\n── {event.role}: {event.model_id} ──\n")
            elif isinstance(event, TokenDelta):
                pass  # answers may interleave; they are printed whole below
            elif isinstance(event, (Notice, RunFailed, RunCancelled)):
                _render(event)
        await engine.ledger.flush()
        run = await engine.ledger.call("run", last.run_id) if last else None
    finally:
        await engine.close()
    result = json.loads(run["result_json"]) if run and run.get("result_json") else {"answers": []}
    if as_json:
        _emit({"compare_id": last.run_id if last else None, "status": run["status"] if run else "failed", **result})
        return _exit_code(last)
    for a in result["answers"]:
        u = a.get("usage") or {}
        stats = (f"first token {u['ttft_s'] * 1000:.0f} ms, {u.get('tokens_per_s') or 0:.0f} tok/s, "
                 f"{u.get('completion_tokens')} tokens" if u.get("ttft_s") else a.get("error", ""))
        print(f"\n=== {a['label']}: {a['model']} ({a['status']}; {stats}) ===\n{a['output']}")
    if isinstance(last, RunFinished):
        print(f"\nVote: jarvis vote {last.run_id} A|B|tie|bad")
    return _exit_code(last)


# -- feedback ----------------------------------------------------------------
def cmd_rate(config, paths, args) -> int:
    correction = None
    if args.correction_file:
        try:
            correction = Path(args.correction_file).read_text(encoding="utf-8")
        except OSError as err:
            return fail(f"cannot read {args.correction_file}: {err.strerror}.", EXIT_USAGE)
    try:
        rating = feedback.rate(_ledger(paths), args.target, args.score, comment=args.comment, correction=correction)
    except feedback.FeedbackError as err:
        return fail(str(err), EXIT_USAGE)
    if args.json:
        _emit({"rating": rating})
    else:
        print(f"Rated {args.target} {args.score}/5 for {rating['model_id'] or 'the run'} ({rating['task_type']}).")
    return EXIT_OK


def cmd_vote(config, paths, args) -> int:
    try:
        result = feedback.vote(_ledger(paths), args.compare_id, args.winner)
    except feedback.FeedbackError as err:
        return fail(str(err), EXIT_USAGE)
    if args.json:
        _emit({k: result[k] for k in ("compare_id", "winner", "models", "pairs")})
    else:
        models = result["models"]
        print(f"Vote counted: {args.winner} ({', '.join(f'{chr(65 + i)}={m}' for i, m in enumerate(models))}).")
    return EXIT_OK


# -- stats, history, export ----------------------------------------------------
def _since(value: str | None) -> float | None:
    if not value:
        return None
    if value.isdigit():
        return time.time() - int(value) * 86400
    try:
        return datetime.strptime(value, "%Y-%m-%d").timestamp()
    except ValueError:
        raise SystemExit(fail(f"--since takes YYYY-MM-DD or a number of days, not '{value}'.", EXIT_USAGE))


def cmd_stats(config, paths, args) -> int:
    ledger = _ledger(paths)
    monitor = PerformanceMonitor(ledger)
    since = _since(args.since)
    doc = {
        "performance": monitor.table(args.task_type, since=since),
        "leaderboard": monitor.leaderboard(args.task_type),
        "costs": cost_report(ledger, args.by, since or 0.0),
        "budgets": budget_status(ledger),
        "cache": ledger.cache_stats(),
    }
    if args.json:
        _emit(doc)
        return EXIT_OK
    print("Performance" + (f" ({args.task_type})" if args.task_type else ""))
    rows = [("MODEL", "TASK", "REQ", "OK%", "P50 s", "P95 s", "TTFT ms", "TOK/S", "RATING (n)")]
    for r in doc["performance"]:
        rows.append((r["model"], r["task_type"] or "-", str(r["requests"]),
                     f"{100 * r['success_rate']:.0f}" if r["success_rate"] is not None else "-",
                     _f(r["latency_p50"]), _f(r["latency_p95"]),
                     f"{r['ttft_p50'] * 1000:.0f}" if r["ttft_p50"] else "-", _f(r["tokens_per_s_p50"], 0),
                     f"{r['rating_mean']:.2f} ({r['ratings']})" if r["rating_mean"] else "-"))
    print_table(rows)
    print("\nLeaderboard (Bradley-Terry, 95 % interval)")
    rows = [("MODEL", "RATING", "95% CI", "VOTES")]
    rows += [(s["model"], f"{s['rating']:.0f}", f"{s['ci95'][0]:.0f}-{s['ci95'][1]:.0f}", str(s["votes"]))
             for s in doc["leaderboard"]]
    print_table(rows) if len(rows) > 1 else print("  no votes yet: jarvis compare ... then jarvis vote")
    print(f"\nCosts by {args.by}")
    rows = [("KEY", "REQUESTS", "COST $")] + [(str(c["key"]), str(c["requests"]), f"{c['cost_usd']:.4f}")
                                               for c in doc["costs"]]
    print_table(rows)
    for b in doc["budgets"]:
        limit = f"${b['limit_usd']:.2f}" if b["limit_usd"] is not None else "no limit"
        print(f"{b['period']} budget: {limit}, spent ${b['spent_usd']:.4f}" + (" (exhausted)" if b["exhausted"] else ""))
    return EXIT_OK


def _f(v, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def cmd_history(config, paths, args) -> int:
    rows = _ledger(paths).history(args.search, args.limit)
    if args.json:
        _emit({"runs": rows})
        return EXIT_OK
    table = [("ID", "WHEN", "KIND", "STATUS", "MODELS", "RATING", "TASK")]
    for r in rows:
        when = datetime.fromtimestamp(r["started_at"]).strftime("%Y-%m-%d %H:%M")
        task = r["task"].replace("\n", " ")
        table.append((r["id"], when, r["chain"] or r["kind"], r["status"], r["models"] or "-",
                      f"{r['rating']:.1f}" if r["rating"] else "-", task[:50] + ("…" if len(task) > 50 else "")))
    print_table(table) if rows else print("No runs yet. Try: jarvis run \"Write a function that reverses a string\"")
    return EXIT_OK


def cmd_export(config, paths, args) -> int:
    run = _ledger(paths).run(args.run_id)
    if run is None:
        return fail(f"no run with id {args.run_id} (see `jarvis history`).", EXIT_USAGE)
    print(json.dumps(run_as_json(run), indent=2) if args.format == "json" or args.json else run_as_markdown(run))
    return EXIT_OK


# -- policy, budget ------------------------------------------------------------
def cmd_policy(config, paths, args) -> int:
    path = paths.config_file.parent / "policies.toml"
    try:
        policies = load_policies(path)
    except PolicyError as err:
        return fail(str(err), EXIT_USAGE)
    if args.action == "add":
        policy = Policy(name=args.name, task_type=args.task_type, language=args.language, role=args.role,
                        prefer=args.prefer, fallbacks=args.fallback, strategy=args.strategy, priority=args.priority)
        policies = [p for p in policies if p.name != args.name] + [policy]
        save_policies(path, policies)
    elif args.action == "remove":
        if not any(p.name == args.name for p in policies):
            return fail(f"no policy named '{args.name}'.", EXIT_USAGE)
        policies = [p for p in policies if p.name != args.name]
        save_policies(path, policies)
    if args.json:
        _emit({"policies": [p.model_dump() for p in policies], "file": str(path)})
    elif args.action == "list":
        for p in sorted(policies, key=lambda p: -p.priority):
            when = ", ".join(f"{k}={'/'.join(getattr(p, k))}" for k in ("task_type", "language", "role")
                             if getattr(p, k)) or "always"
            print(f"{p.name} (priority {p.priority}): when {when} → prefer {', '.join(p.prefer) or '-'}"
                  f"{'; strategy ' + p.strategy if p.strategy else ''}")
        if not policies:
            print(f"No policies ({path}).")
    else:
        print(f"{'Saved' if args.action == 'add' else 'Removed'} policy '{args.name}' in {path}.")
    return EXIT_OK


def cmd_budget(config, paths, args) -> int:
    ledger = _ledger(paths)
    if args.action == "set":
        if args.limit_usd < 0:
            return fail("a budget cannot be negative.", EXIT_USAGE)
        ledger.set_budget(args.period, args.limit_usd)
    status = budget_status(ledger)
    if args.json:
        _emit({"budgets": status})
    else:
        for b in status:
            limit = f"${b['limit_usd']:.2f}" if b["limit_usd"] is not None else "no limit"
            print(f"{b['period']}: {limit}, spent ${b['spent_usd']:.4f}" + (" — cloud fallbacks blocked"
                                                                            if b["exhausted"] else ""))
    return EXIT_OK
