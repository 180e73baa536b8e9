"""Commands that run the engine on a task: `run` (a chain, streaming each step) and `compare` (2-4 models)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .exit_codes import EXIT_USAGE
from .output import fail
from .text_input import InputError, text_argument, text_file
from .thread_commands import add_continue_option, continued_task, follow_up, going_on, say_turn

STRATEGIES = ["performance", "quality", "cost", "reliability", "balanced"]


def register(add: Callable[[str, str], argparse.ArgumentParser]) -> None:
    p = add("run", "run a chain on a task, streaming each step")
    p.add_argument("task", nargs="?", help="the task, or - to read it from standard input")
    add_continue_option(p, "the run")
    p.add_argument("--chain", default=None, help="default, code, planning, analysis, or one of yours")
    p.add_argument("--model", "-m", help="use this model id for every role")
    p.add_argument("--strategy", choices=STRATEGIES)
    p.add_argument("--rounds", type=int, help="review/revise rounds allowed (code chain)")
    p.add_argument("--max-tokens", type=int, help="cap every step's answer length")
    p.add_argument("--seed", type=int, help="sampling seed, for repeatable runs")
    p.add_argument("--no-cache", action="store_true", help="never answer from the response cache")
    p.add_argument(
        "--no-fallback",
        action="store_true",
        help="with --model: fail when that model fails instead of answering with another",
    )
    c = p.add_argument_group(
        "your project as context (paths, hashes and token counts are stored with the run)"
    )
    c.add_argument(
        "-f",
        "--file",
        action="append",
        default=[],
        dest="files",
        metavar="PATH",
        help="attach a file (repeatable)",
    )
    c.add_argument(
        "--dir",
        action="append",
        default=[],
        dest="dirs",
        metavar="DIR",
        help="attach a folder: its files (respecting .gitignore) and, when they do not all fit, a repo map",
    )
    c.add_argument("--map-tokens", type=int, help="the repo map's token budget (default 1024; 0: no map)")
    c.add_argument(
        "--keep-context", action="store_true", help="also store the attached files' text with the run"
    )
    c.add_argument(
        "--rerun", metavar="RUN_ID", help="run that run's task again, with its files as they are now"
    )
    v = p.add_argument_group("verification (runs the generated Python in a sandbox; see --chain verified)")
    v.add_argument(
        "--verify",
        action="store_true",
        help="run the code role's candidates against the task's examples and your tests",
    )
    v.add_argument(
        "--tests", metavar="FILE", help="a pytest file or snippet the code must pass (implies --verify)"
    )
    v.add_argument(
        "--example",
        action="append",
        default=[],
        metavar="CALL",
        help='one example call and its result, e.g. "is_prime(7) is True" (repeatable; implies --verify)',
    )
    v.add_argument(
        "--test-cmd",
        metavar="CMD",
        help="with files attached: run your tests on a sandboxed copy with the answer's edits"
        ' applied, e.g. "pytest -q tests/test_parser.py" (nothing is written; see jarvis apply);'
        " on a verified run they judge each candidate's edits",
    )
    v.add_argument("--candidates", type=int, help="samples when the first candidate fails (1-8, default 6)")
    v.add_argument("--repair-rounds", type=int, help="repair rounds when none passes (0-2, default 1)")
    v.add_argument(
        "--retries", type=int, help="more samples when after the repairs none passes (0-12, default 6)"
    )
    p.set_defaults(handler=cmd_run)

    p = add("compare", "send one prompt to 2-4 models and show the answers side by side")
    p.add_argument("prompt", nargs="?", help="the prompt, or - to read it from standard input")
    p.add_argument("-m", "--model", action="append", dest="models", help="a model id (2-4 times)")
    add_continue_option(p, "the comparison")
    p.add_argument("--max-tokens", type=int, default=512)
    p.add_argument("--temperature", type=float)
    p.add_argument("--seed", type=int)
    p.set_defaults(handler=cmd_compare)


# -- run -------------------------------------------------------------------
def cmd_run(config, paths, args) -> int:
    continue_id, args.task = continued_task(args, "task")
    chain_given = args.chain is not None  # a follow-up otherwise goes on in its thread's chain
    from .run_context import ContextInputError, context_from_args, rerun_source

    try:
        if args.rerun:
            task, chain, context = rerun_source(paths, args.rerun)
            task = text_argument(args.task, "task") if args.task else task
            args.chain = args.chain or chain
        elif args.task is None and args.continue_from is not None:
            return fail('the follow-up is missing: jarvis run --continue [RUN_ID] "TEXT".', EXIT_USAGE)
        elif args.task is None:
            why = 'the task is missing: jarvis run "TASK" (- reads it from standard input; --rerun RUN_ID).'
            return fail(why, EXIT_USAGE)
        else:
            task, context = text_argument(args.task, "task"), None
        if args.files or args.dirs:
            context = context_from_args(paths, args)
    except (InputError, ContextInputError) as err:
        return fail(str(err), EXIT_USAGE)
    args.chain = args.chain or "default"
    if not task.strip():
        return fail("the task is empty.", EXIT_USAGE)
    if args.no_fallback and not args.model:
        return fail("--no-fallback needs --model ID: it keeps a run on that one model.", EXIT_USAGE)
    # The engine is imported only now: `jarvis --help` and the other commands do not pay for it.
    import asyncio

    from jarvis.chains.run_options import RunOptions

    from .run_console import run_chain

    overrides = {k: v for k, v in (("max_tokens", args.max_tokens), ("seed", args.seed)) if v is not None}
    try:
        verify = verify_options(task, args)
    except (InputError, ValueError) as err:
        return fail(str(err), EXIT_USAGE)
    options = RunOptions(
        chain=args.chain,
        model=args.model,
        strategy=args.strategy,
        max_rounds=args.rounds,
        use_cache=not args.no_cache,
        no_fallback=args.no_fallback,
        overrides=overrides,
        context=context,
        test_cmd=args.test_cmd,
        **verify,
    )
    if args.continue_from is not None:
        from jarvis.chains.threads import ThreadError

        try:
            follow = follow_up(paths, continue_id)
        except ThreadError as err:
            return fail(str(err), EXIT_USAGE)
        options = going_on(options, follow, chain_given=chain_given, cache_dir=paths.data_dir / "repomap")
        say_turn(follow, args.json)
    return asyncio.run(run_chain(config, paths, task, options, args.json, test_cmd=args.test_cmd))


def verify_options(task: str, args) -> dict:
    """RunOptions' verification fields from the flags, checked now: a bad test file, example or setting is
    one sentence before any model loads. Raises InputError or ValueError."""
    from jarvis.chains.verify.extract import extract_checks, guess_entry_point
    from jarvis.chains.verify.settings import VerifySettings
    from jarvis.chains.verify.task_checks import given_checks

    tests = text_file(args.tests) if args.tests else None
    try:
        given_checks(tests, args.example, guess_entry_point(task, extract_checks(task)))
    except ValueError as err:
        flag = "--tests" if tests is not None and "example" not in str(err) else "--example"
        raise ValueError(f"{flag}: {err}.") from None
    settings = {
        k: v
        for k, v in (
            ("candidates", args.candidates),
            ("repair_rounds", args.repair_rounds),
            ("retries", args.retries),
        )
        if v is not None
    }
    try:
        VerifySettings(**settings)
    except ValueError:
        limits = "--candidates must be 1 to 8, --repair-rounds 0 to 2 and --retries 0 to 12"
        raise ValueError(f"{limits}.") from None
    on = True if (args.verify or tests is not None or args.example or settings) else None
    return {"verify": on, "tests": tests, "examples": tuple(args.example), "verify_settings": settings}


# -- compare ---------------------------------------------------------------
def cmd_compare(config, paths, args) -> int:
    continue_id, prompt = continued_task(args, "prompt")
    follow = None
    if args.continue_from is not None:
        from jarvis.chains.threads import ThreadError

        try:  # every model of that comparison continues its own answers (unless -m names others)
            follow = follow_up(paths, continue_id, kind="compare")
        except ThreadError as err:
            return fail(str(err), EXIT_USAGE)
    models = args.models or (list(follow.models) if follow else [])
    if not 2 <= len(models) <= 4:
        return fail("compare takes 2 to 4 models (-m ID -m ID ...).", EXIT_USAGE)
    if prompt is None:
        return fail('the prompt is missing: jarvis compare "PROMPT" -m ID -m ID.', EXIT_USAGE)
    try:
        prompt = text_argument(prompt, "prompt")
    except InputError as err:
        return fail(str(err), EXIT_USAGE)
    import asyncio

    from jarvis.providers.types import GenerationOptions

    from .run_console import run_comparison

    options = GenerationOptions(max_tokens=args.max_tokens, temperature=args.temperature, seed=args.seed)
    return asyncio.run(run_comparison(config, paths, prompt, models, options, args.json, follow))
