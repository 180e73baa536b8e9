"""Commands for settings kept outside config.toml: `policy` (routing) and `budget` (cloud spending)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .exit_codes import EXIT_CONFIG, EXIT_OK, EXIT_USAGE
from .output import emit_json, fail
from .record_commands import open_ledger

STRATEGIES = ["performance", "quality", "cost", "reliability", "balanced"]


def register(add: Callable[[str, str], argparse.ArgumentParser]) -> None:
    p = add("policy", "routing policies: which models take which tasks")
    psub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add_p = psub.add_parser("add", help="add or replace a policy")
    add_p.add_argument("name")
    add_p.add_argument("--task-type", action="append", default=[])
    add_p.add_argument("--language", action="append", default=[])
    add_p.add_argument("--role", action="append", default=[])
    add_p.add_argument("--prefer", action="append", default=[], help="model id, in order of preference")
    add_p.add_argument("--fallback", action="append", default=[])
    add_p.add_argument("--strategy", choices=STRATEGIES)
    add_p.add_argument("--priority", type=int, default=0)
    psub.add_parser("list", help="list policies")
    rm = psub.add_parser("remove", help="remove a policy")
    rm.add_argument("name")
    for sp in psub.choices.values():
        sp.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=cmd_policy)

    p = add("budget", "daily and monthly spending limits for cloud fallbacks")
    bsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    bset = bsub.add_parser("set", help="set a limit in US dollars")
    bset.add_argument("period", choices=["daily", "monthly"])
    bset.add_argument("limit_usd", type=float)
    bsub.add_parser("show", help="limits and what has been spent")
    for sp in bsub.choices.values():
        sp.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=cmd_budget)


# -- policy, budget ------------------------------------------------------------
def cmd_policy(config, paths, args) -> int:
    # Imported here, not at the top: building the parser for `jarvis --help` stays cheap.
    from jarvis.chains.policies import Policy, PolicyError, load_policies, save_policies

    path = paths.policies_file
    try:
        policies = load_policies(path)
    except PolicyError as err:
        return fail(str(err), EXIT_CONFIG)
    if args.action == "add":
        policy = Policy(
            name=args.name,
            task_type=args.task_type,
            language=args.language,
            role=args.role,
            prefer=args.prefer,
            fallbacks=args.fallback,
            strategy=args.strategy,
            priority=args.priority,
        )
        policies = [p for p in policies if p.name != args.name] + [policy]
        save_policies(path, policies)
    elif args.action == "remove":
        if not any(p.name == args.name for p in policies):
            return fail(f"no policy named '{args.name}'.", EXIT_USAGE)
        policies = [p for p in policies if p.name != args.name]
        save_policies(path, policies)
    if args.json:
        emit_json({"policies": [p.model_dump() for p in policies], "file": str(path)})
    elif args.action == "list":
        for p in sorted(policies, key=lambda p: -p.priority):
            when = (
                ", ".join(
                    f"{k}={'/'.join(getattr(p, k))}"
                    for k in ("task_type", "language", "role")
                    if getattr(p, k)
                )
                or "always"
            )
            print(
                f"{p.name} (priority {p.priority}): when {when} → prefer {', '.join(p.prefer) or '-'}"
                f"{'; strategy ' + p.strategy if p.strategy else ''}"
            )
        if not policies:
            print(f"No policies ({path}).")
    else:
        print(f"{'Saved' if args.action == 'add' else 'Removed'} policy '{args.name}' in {path}.")
    return EXIT_OK


def cmd_budget(config, paths, args) -> int:
    from jarvis.chains.costs import budget_status

    ledger = open_ledger(paths)
    if args.action == "set":
        if args.limit_usd < 0:
            return fail("a budget cannot be negative.", EXIT_USAGE)
        ledger.set_budget(args.period, args.limit_usd)
    status = budget_status(ledger)
    if args.json:
        emit_json({"budgets": status})
    else:
        for b in status:
            limit = f"${b['limit_usd']:.2f}" if b["limit_usd"] is not None else "no limit"
            print(
                f"{b['period']}: {limit}, spent ${b['spent_usd']:.4f}"
                + (" — cloud fallbacks blocked" if b["exhausted"] else "")
            )
    return EXIT_OK
