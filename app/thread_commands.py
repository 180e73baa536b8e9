"""Commands on threads of turns: `regenerate`, `fork`, `thread`; and the turn `run --continue` and
`compare --continue` follow (chains.threads), found before any model loads."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .exit_codes import EXIT_OK, EXIT_USAGE
from .output import emit_json, fail, print_table
from .text_input import InputError, text_argument

if TYPE_CHECKING:
    from jarvis.chains.run_options import RunOptions
    from jarvis.chains.threads import FollowUp

#: `--continue` given without a run id (the newest run is meant).
LATEST = "latest"
#: What chains.clock.new_id makes ("run_3f2a9c01b2d4"): `--continue run_…` alone is an id without its text.
_RUN_ID = re.compile(r"^[a-z]+_[0-9a-f]{12}$")


def register(add: Callable[[str, str], argparse.ArgumentParser]) -> None:
    p = add("regenerate", "run a turn again (same task, same earlier turns) beside the original")
    p.add_argument("run_id", help="the turn to run again (run_...)")
    p.add_argument("--model", "-m", help="another model for it (default: chosen as for the original)")
    p.add_argument("--max-tokens", type=int, help="cap every step's answer length")
    p.set_defaults(handler=cmd_regenerate)

    p = add("fork", "start a new thread from a turn; the original thread stays as it is")
    p.add_argument("run_id", help="the turn to start from (run_...)")
    p.add_argument("task", help="the new thread's next task, or - to read it from standard input")
    p.add_argument("--model", "-m", help="use this model id for every role")
    p.add_argument("--max-tokens", type=int, help="cap every step's answer length")
    p.set_defaults(handler=cmd_fork)

    p = add("thread", "every turn of a run's thread, in order")
    p.add_argument("run_id", help="any turn of the thread")
    p.set_defaults(handler=cmd_thread)


def add_continue_option(p: argparse.ArgumentParser, what: str) -> None:
    """`--continue [ID]` on `run` and `compare` (their task argument becomes optional for it)."""
    p.add_argument(
        "--continue",
        dest="continue_from",
        nargs="?",
        const=LATEST,
        metavar="ID",
        help=f"a follow-up turn of {what} ID (default: the newest), seeing its task and answers",
    )


def continued_task(args, attr: str) -> tuple[str | None, str | None]:
    """(the id to continue or None for the newest, the follow-up's text) from ``--continue [ID] TEXT``:
    argparse hands `--continue "TEXT"` to the option, so a lone value is the text."""
    given, text = args.continue_from, getattr(args, attr)
    if text is None and given not in (None, LATEST) and not _RUN_ID.match(given):
        return None, given
    return (None if given == LATEST else given), text


def follow_up(paths, run_id: str | None, *, kind: str = "chain") -> FollowUp:
    """The follow-up turn of ``run_id`` (None: the newest of its kind). Raises ThreadError."""
    from jarvis.chains import threads

    from .record_commands import open_ledger

    ledger = open_ledger(paths)
    try:
        if kind == "compare":
            return threads.compare_continuation(ledger, run_id)
        return threads.continuation(ledger, run_id)
    finally:
        ledger.close()


def going_on(
    options: RunOptions, follow: FollowUp, *, chain_given: bool, cache_dir: Path | None = None
) -> RunOptions:
    """A follow-up goes on as the turn it follows went: its chain (unless --chain), model and strategy
    (unless given), and its files attached again."""
    from dataclasses import replace  # not at import: `jarvis --help` does not need dataclasses

    was = follow.origin_options
    pinned = options.model is None and bool(was.get("model"))
    options = replace(
        options,
        follow_up=follow,
        chain=options.chain if chain_given else was.get("chain") or options.chain,
        model=options.model or was.get("model"),
        strategy=options.strategy or was.get("strategy"),
        no_fallback=options.no_fallback or (pinned and bool(was.get("no_fallback"))),
    )
    return with_files(options, follow, cache_dir)


def say_turn(follow: FollowUp, as_json: bool) -> None:
    """One line on stderr before the run: which turn this is, of which thread (not in --json)."""
    if as_json:
        return
    import sys

    if follow.thread_id is None:
        where = f"a new thread from {follow.parent_run_id}"
    elif follow.parent_run_id is None:
        where = f"the first turn of thread {follow.thread_id}, again"
    else:
        where = f"after {follow.parent_run_id} in thread {follow.thread_id}"
    sys.stderr.write(f"── turn {follow.turn}: {where} ──\n")


def with_files(options: RunOptions, follow: FollowUp, cache_dir: Path | None = None) -> RunOptions:
    """The continued turn's files attached again, read from disk now (unless files were given anew):
    its -f files whole first, its --dir folders walked again (new files join, the repo map stands in
    for what does not fit), as that turn was given them."""
    paths = follow.file_paths
    if not paths or getattr(options, "context", None) is not None:
        return options
    from jarvis.chains.context.collect import collect
    from jarvis.chains.context.project import ProjectContext
    from jarvis.chains.context.repomap import DEFAULT_MAP_TOKENS

    from .run_context import given_again

    root = Path(follow.files[0].root)
    shape = follow.origin_options.get("context") or {}
    files, dirs = given_again(root, paths, shape)  # gone ones are said in the follow-up's notices
    got = collect(files, dirs, root=root)
    context = ProjectContext(
        got.root,
        tuple(got.attachments),
        tuple(got.notices),
        map_tokens=int(shape.get("map_tokens", DEFAULT_MAP_TOKENS)),
        cache_dir=cache_dir,
        keep_content=bool(shape.get("keep_content", False)),
        dirs=tuple(got.dirs),
    )
    from dataclasses import replace

    return replace(options, context=context)


# -- regenerate, fork ---------------------------------------------------------
def cmd_regenerate(config, paths, args) -> int:
    from jarvis.chains import threads
    from jarvis.chains.run_options import RunOptions

    from .record_commands import open_ledger

    ledger = open_ledger(paths)
    try:
        turn, again = threads.regeneration(ledger, args.run_id)
    except threads.ThreadError as err:
        return fail(str(err), EXIT_USAGE)
    finally:
        ledger.close()
    if turn.kind != "chain":
        why = f"{args.run_id} is a comparison; run it again with `jarvis compare` (or --continue it)."
        return fail(why, EXIT_USAGE)
    was = turn.options
    options = RunOptions(
        chain=was.get("chain") or turn.chain or "default",
        model=args.model or was.get("model"),
        strategy=was.get("strategy"),
        no_fallback=bool(was.get("no_fallback")) and not args.model,
        # The same prompt again: the cache would hand back the very answer being regenerated.
        use_cache=False,
        overrides={"max_tokens": args.max_tokens} if args.max_tokens else {},
        follow_up=again,
    )
    say_turn(again, args.json)
    options = with_files(options, again, paths.data_dir / "repomap")
    return _run(config, paths, turn.task, options, args.json)


def cmd_fork(config, paths, args) -> int:
    from jarvis.chains import threads
    from jarvis.chains.run_options import RunOptions

    from .record_commands import open_ledger

    try:
        task = text_argument(args.task, "task")
    except InputError as err:
        return fail(str(err), EXIT_USAGE)
    if not task.strip():
        return fail("the task is empty.", EXIT_USAGE)
    ledger = open_ledger(paths)
    try:
        start = threads.fork(ledger, args.run_id)
    except threads.ThreadError as err:
        return fail(str(err), EXIT_USAGE)
    finally:
        ledger.close()
    options = RunOptions(
        overrides={"max_tokens": args.max_tokens} if args.max_tokens else {}, model=args.model
    )
    say_turn(start, args.json)
    options = going_on(options, start, chain_given=False, cache_dir=paths.data_dir / "repomap")
    return _run(config, paths, task, options, args.json)


def _run(config, paths, task: str, options: RunOptions, as_json: bool) -> int:
    import asyncio

    from .run_console import run_chain

    return asyncio.run(run_chain(config, paths, task, options, as_json))


# -- thread ---------------------------------------------------------------------
def cmd_thread(config, paths, args) -> int:
    from jarvis.chains import threads

    from .record_commands import open_ledger

    ledger = open_ledger(paths)
    try:
        view = threads.thread_of(ledger, args.run_id)
    except threads.ThreadError as err:
        return fail(str(err), EXIT_USAGE)
    finally:
        ledger.close()
    if args.json:
        emit_json(view.as_json())
        return EXIT_OK
    rows = [("TURN", "ID", "WHEN", "STATUS", "MODELS", "RATING", "TASK")]
    seen: set[int] = set()
    for t in view.runs:
        inherited = t in view.forked_from
        # A second run of the same turn is a regeneration: shown indented under the first.
        label = f"{t.turn}" if t.turn not in seen or inherited else f"  {t.turn} (again)"
        if not inherited:
            seen.add(t.turn)
        task = t.task.replace("\n", " ")
        rows.append(
            (
                label + (" (before fork)" if inherited else ""),
                t.run_id,
                datetime.fromtimestamp(t.started_at).strftime("%Y-%m-%d %H:%M"),
                t.status,
                t.models or "-",
                f"{t.rating:.1f}" if t.rating else "-",
                task[:50] + ("…" if len(task) > 50 else ""),
            )
        )
    print_table(rows)
    last = view.turns[-1].run_id if view.turns else args.run_id
    command = "compare" if view.turns and view.turns[-1].kind == "compare" else "run"
    print(f'\nContinue it: jarvis {command} --continue {last} "…"  ·  export it: jarvis export {last}')
    return EXIT_OK
