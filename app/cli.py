"""`jarvis` command line: the TUI with no arguments, the same engine headless with subcommands.

Each command group (a module named ``*_commands``) adds its subcommands with ``register(add)`` and
sets its handler on each (``set_defaults(handler=...)``); a handler takes ``(config, paths, args)``
and returns an exit code (app/exit_codes.py). Only `main` turns that code into the process's status.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from .exit_codes import EXIT_CANCELLED, EXIT_CONFIG, EXIT_OK, EXIT_USAGE


def _version() -> str:
    from jarvis import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    from . import (
        apply_commands,
        eval_commands,
        inspect_commands,
        keys_commands,
        record_commands,
        run_commands,
        serve_commands,
        settings_commands,
        thread_commands,
    )

    parser = argparse.ArgumentParser(
        prog="jarvis",
        description="Jarvis Workbench: run code-generation chains on local models, compare them,"
        " rate the answers. With no command, opens the workbench.",
    )
    parser.add_argument("--version", action="version", version=f"jarvis {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--json", action="store_true", help="print one JSON document")
        return p

    # The order here is the order `jarvis --help` lists the commands in.
    groups = (inspect_commands, run_commands, eval_commands, record_commands, settings_commands)
    for group in (*groups, thread_commands, apply_commands, serve_commands, keys_commands):
        group.register(add)
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
    from .config import ConfigError, load_config
    from .output import fail
    from .paths import resolve_paths

    handler: Callable[..., int] | None = getattr(args, "handler", None)
    if handler is None:  # a subcommand registered without a handler is a bug in this package
        return fail(f"the command '{args.command}' has no handler.", EXIT_USAGE)
    paths = resolve_paths()
    try:
        config = load_config(paths.config_file)
    except ConfigError as err:
        return fail(str(err), EXIT_CONFIG)
    try:
        return handler(config, paths, args)
    except BrokenPipeError:  # `jarvis history | head`: the reader left, which is not an error to report
        # Point stdout at /dev/null so that the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return fail("cancelled.", EXIT_CANCELLED)


if __name__ == "__main__":
    sys.exit(main())
