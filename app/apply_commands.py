"""`jarvis apply RUN_ID`: write a run's reviewed edits to the attached files (after asking), or undo them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from .exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from .output import emit_json, fail


def register(add: Callable[[str, str], argparse.ArgumentParser]) -> None:
    p = add("apply", "apply a run's edits to the files it was given (shows the diff, asks first)")
    p.add_argument("run_id", metavar="RUN_ID", help="the run whose answer changes your files")
    p.add_argument("--yes", "-y", action="store_true", help="apply without asking")
    p.add_argument(
        "--force",
        action="store_true",
        help="apply over uncommitted changes, failing tests or a file cut by half; undo over later changes",
    )
    p.add_argument("--undo", action="store_true", help="put the files an apply changed back as they were")
    p.add_argument(
        "--test-cmd",
        metavar="CMD",
        help='first run your tests on a sandboxed copy with the patch, e.g. "pytest -q tests/test_parser.py"',
    )
    p.set_defaults(handler=cmd_apply)


def cmd_apply(config, paths, args) -> int:
    import asyncio

    if args.undo and args.test_cmd:
        return fail("--undo restores files; it runs no tests (leave out --test-cmd).", EXIT_USAGE)
    return asyncio.run(_undo(paths, args) if args.undo else _apply(paths, args))


def _confirm(question: str) -> bool | None:
    """The user's answer, or None when there is no terminal to ask on."""
    if not sys.stdin.isatty():
        return None
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


async def _apply(paths, args) -> int:
    from jarvis.chains.edits.apply import ApplyRefused
    from jarvis.chains.ledger_async import AsyncLedger

    from .edits_console import RunEdits, apply_run, print_edits, review_run, run_tests_on_patch

    ledger = AsyncLedger(paths.database)
    try:
        if await ledger.run(args.run_id) is None:
            return fail(f"there is no run {args.run_id}; `jarvis history` lists them.", EXIT_USAGE)
        if not await ledger.run_files(args.run_id):
            return fail(
                f"run {args.run_id} had no attached files, so its answer changes none; attach files"
                " with -f to get edits.",
                EXIT_FAILED,
            )
        done = await _already_applied(ledger, args.run_id)
        if done:
            return fail(
                f"run {args.run_id}'s edits are already applied to {', '.join(done)}; undo them with"
                f" `jarvis apply --undo {args.run_id}`.",
                EXIT_FAILED,
            )
        review = await review_run(ledger, args.run_id, force=args.force)
        if review is None:
            return fail(f"the answer of run {args.run_id} has no edits to your files.", EXIT_FAILED)
        edits = RunEdits(args.run_id, review)
        if args.test_cmd and review.changes:
            edits = await run_tests_on_patch(ledger, args.run_id, review, args.test_cmd)
        if not args.json:
            print_edits(edits, hint=False)
        doc = {"run_id": args.run_id, **edits.as_json(), "applied": []}
        refusal = _refusal(edits, args)
        if refusal is None and not args.yes:
            n = len(review.changes)
            answer = _confirm(f"Apply these changes to {n} file{'s' if n != 1 else ''}? [y/N] ")
            if answer is None:
                refusal = (
                    "not applied: standard input is not a terminal, so I cannot ask; pass --yes to"
                    " apply without asking."
                )
            elif not answer:
                refusal = "not applied."
        if refusal is not None:
            if args.json:
                emit_json({**doc, "error": refusal})
            return fail(refusal, EXIT_FAILED)
        try:
            applied = await apply_run(ledger, paths.edit_backups, args.run_id, review)
        except ApplyRefused as err:
            if args.json:
                emit_json({**doc, "error": str(err)})
            return fail(str(err), EXIT_FAILED)
        doc["applied"] = [f.path for f in applied]
        if args.json:
            emit_json(doc)
        else:
            names = ", ".join(f.path for f in applied)
            print(f"✓ applied to {names}. Undo: jarvis apply --undo {args.run_id}", file=sys.stderr)
        return EXIT_OK
    finally:
        await ledger.flush()
        ledger.close()


async def _already_applied(ledger, run_id: str) -> list[str]:
    """The files an earlier apply of this run wrote that still hold what it wrote ([] when none): applying
    again would be refused as "changed since it was attached", which hides the reason."""
    import asyncio
    from pathlib import Path

    from jarvis.chains.edits.review import sha256_of
    from jarvis.chains.edits.store import applied_files

    root, files = await ledger.call_fn(applied_files, run_id)
    if root is None:
        return []

    def still(path: str, digest: str) -> bool:
        try:
            return sha256_of((Path(root) / path).read_bytes()) == digest
        except OSError:
            return False

    return await asyncio.to_thread(lambda: [f.path for f in files if still(f.path, f.sha256_after)])


def _refusal(edits, args) -> str | None:
    """Why nothing will be applied (before asking), or None."""
    if not edits.review.changes:
        return "none of the answer's edits can be applied; the reasons are listed above."
    if edits.tests_error:
        return f"not applied: the tests did not run ({edits.tests_error.rstrip('.')})."
    if edits.tests is not None and not edits.tests.passed and not args.force:
        return "not applied: the tests fail with the patch; pass --force to apply anyway."
    return None


async def _undo(paths, args) -> int:
    from jarvis.chains.ledger_async import AsyncLedger

    from .edits_console import undo_run

    ledger = AsyncLedger(paths.database)
    try:
        if await ledger.run(args.run_id) is None:
            return fail(f"there is no run {args.run_id}; `jarvis history` lists them.", EXIT_USAGE)
        outcomes = await undo_run(ledger, args.run_id, force=args.force)
        if outcomes is None:
            return fail(f"run {args.run_id} has no applied edits to undo.", EXIT_FAILED)
        if args.json:
            emit_json(
                {
                    "run_id": args.run_id,
                    "files": [
                        {"path": o.path, "restored": o.restored, "reason": o.reason or None} for o in outcomes
                    ],
                }
            )
        else:
            for o in outcomes:
                line = f"✓ {o.path} restored" if o.restored else f"✗ {o.path} not restored: {o.reason}"
                print(line, file=sys.stderr)
        return EXIT_OK if all(o.restored for o in outcomes) else EXIT_FAILED
    finally:
        await ledger.flush()
        ledger.close()
