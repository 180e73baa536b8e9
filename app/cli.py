"""`jarvis` command line: the TUI with no arguments, the same engine headless with subcommands."""

from __future__ import annotations

import argparse
import sys

# Exit codes scripts can rely on.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_NO_MODEL = 4
EXIT_CANCELLED = 130


def _version() -> str:
    from jarvis import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jarvis",
        description="Jarvis Workbench: run code-generation chains on local models, compare them, rate the answers."
                    " With no command, opens the workbench.",
    )
    parser.add_argument("--version", action="version", version=f"jarvis {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def cmd(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--json", action="store_true", help="print one JSON document")
        return p

    p = cmd("models", "list every model the configured providers offer")
    p.add_argument("--refresh", action="store_true", help="re-read every model's details instead of the cached ones")

    p = cmd("run", "run a chain on a task, streaming each step")
    p.add_argument("task", help="the task, or - to read it from standard input")
    p.add_argument("--chain", default="default", help="default, code, planning, analysis, or one of yours")
    p.add_argument("--model", "-m", help="use this model id for every role")
    p.add_argument("--strategy", choices=["performance", "quality", "cost", "reliability", "balanced"])
    p.add_argument("--rounds", type=int, help="review/revise rounds allowed (code chain)")
    p.add_argument("--max-tokens", type=int, help="cap every step's answer length")
    p.add_argument("--seed", type=int, help="sampling seed, for repeatable runs")
    p.add_argument("--no-cache", action="store_true", help="never answer from the response cache")

    p = cmd("compare", "send one prompt to 2-4 models and show the answers side by side")
    p.add_argument("prompt")
    p.add_argument("-m", "--model", action="append", required=True, dest="models", help="a model id (2-4 times)")
    p.add_argument("--max-tokens", type=int, default=512)
    p.add_argument("--temperature", type=float)
    p.add_argument("--seed", type=int)

    p = cmd("analyze", "classify a task: type, language, capabilities, size")
    p.add_argument("text")
    p.add_argument("--assist", action="store_true",
                   help="also ask the embedded model; the rules decide when it answers nonsense")

    p = cmd("rate", "rate a run or one of its steps from 1 to 5")
    p.add_argument("target", help="a run id (run_...) or step id (step_...)")
    p.add_argument("score", type=int, choices=range(1, 6), metavar="1-5")
    p.add_argument("--comment")
    p.add_argument("--correction-file", help="a file with the answer as it should have been")

    p = cmd("vote", "vote on a comparison")
    p.add_argument("compare_id")
    p.add_argument("winner", choices=["A", "B", "C", "D", "tie", "bad"])

    p = cmd("stats", "performance, leaderboard, costs and budgets")
    p.add_argument("--task-type")
    p.add_argument("--since", help="YYYY-MM-DD, or a number of days (e.g. 7)")
    p.add_argument("--by", default="model", choices=["model", "provider", "task_type", "day"], help="group costs by")

    p = cmd("history", "past runs and comparisons, newest first")
    p.add_argument("--search")
    p.add_argument("--limit", type=int, default=30)

    p = cmd("export", "a run as Markdown or JSON")
    p.add_argument("run_id")
    p.add_argument("--format", choices=["md", "json"], default="md")

    p = cmd("policy", "routing policies: which models take which tasks")
    psub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = psub.add_parser("add", help="add or replace a policy")
    add.add_argument("name")
    add.add_argument("--task-type", action="append", default=[])
    add.add_argument("--language", action="append", default=[])
    add.add_argument("--role", action="append", default=[])
    add.add_argument("--prefer", action="append", default=[], help="model id, in order of preference")
    add.add_argument("--fallback", action="append", default=[])
    add.add_argument("--strategy", choices=["performance", "quality", "cost", "reliability", "balanced"])
    add.add_argument("--priority", type=int, default=0)
    psub.add_parser("list", help="list policies")
    rm = psub.add_parser("remove", help="remove a policy")
    rm.add_argument("name")
    for sp in psub.choices.values():
        sp.add_argument("--json", action="store_true", help="print one JSON document")

    p = cmd("budget", "daily and monthly spending limits for cloud fallbacks")
    bsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    bset = bsub.add_parser("set", help="set a limit in US dollars")
    bset.add_argument("period", choices=["daily", "monthly"])
    bset.add_argument("limit_usd", type=float)
    bsub.add_parser("show", help="limits and what has been spent")
    for sp in bsub.choices.values():
        sp.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:  # the workbench: building the parser for all commands first costs ~15 ms of start-up
        from .tui.launch import launch

        return launch()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 for --help/--version
        return int(exc.code or 0)
    if args.command is None:
        from .tui.launch import launch  # paints before it loads anything heavy

        return launch()
    from .commands import dispatch

    return dispatch(args)


if __name__ == "__main__":
    sys.exit(main())
