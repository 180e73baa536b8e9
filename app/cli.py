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


def _version() -> str:
    from jarvis import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jarvis",
        description="Jarvis Workbench: run code-generation chains on local models, compare them, rate the answers.",
    )
    parser.add_argument("--version", action="version", version=f"jarvis {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    models = sub.add_parser("models", help="list every model the configured providers offer")
    models.add_argument("--json", action="store_true", help="print one JSON document")
    models.add_argument("--refresh", action="store_true", help="ask every provider again, ignoring cached details")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 for --help/--version
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    from .commands import dispatch

    return dispatch(args)


if __name__ == "__main__":
    sys.exit(main())
