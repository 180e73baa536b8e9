"""`jarvis eval`, headless: every task of a suite through each model × chain, graded in the sandbox.

Each task is a normal chain run (so History shows it) kept on one model (`no_fallback`: another
model never answers for the one being measured). The run's final code is graded by the suite's own
checks in the sandbox; the result, the tokens of every step and the times are stored per task with
the task's run id (chains.eval_store), and add up to a pass-rate matrix (chains.eval_matrix).
Sequential, one model after another: a local model loaded once serves all its tasks.

    runner = EvalRunner(engine.orchestrator.run, registry=engine.registry, chains=engine.chains,
                        ledger=engine.ledger, sandbox=Sandbox())
    report = await runner.run(suite, ["ollama/qwen2.5-coder:1.5b"], ["default"], on_progress=print)
"""

from __future__ import annotations

import ast
import asyncio
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from jarvis.providers.errors import ProviderError
from jarvis.providers.registry import ModelRegistry

from .clock import Clock, IdSource, SystemClock, new_id
from .comparison import ReleaseFn
from .eval_matrix import Cell, TaskResult, matrix
from .eval_store import (
    CANCELLED,
    COMPLETED,
    FAILED,
    finish_eval,
    record_eval_result,
    recover_interrupted_evals,
    start_eval,
)
from .events import Event, RunCancelled, RunFailed, RunFinished, RunStarted, StepFinished
from .ledger_async import AsyncLedger
from .run_options import RunOptions
from .specs import ChainLibrary
from .verify.checks import CALL
from .verify.harness import CandidateRun
from .verify.sandbox import Sandbox, SandboxUnavailable
from .verify.suites import Suite, Task, run_task

RunFn = Callable[[str, RunOptions, asyncio.Event], AsyncIterator[Event]]
_REASON_CHARS = 300


class EvalError(Exception):
    """An eval that cannot start; `kind` is usage (suite, chain), no_model or sandbox."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class EvalProgress:
    """Task `index` of `total` is starting (`result` None) or has been graded."""

    index: int
    total: int
    model: str
    chain: str
    task_id: str
    result: TaskResult | None = None


@dataclass
class EvalReport:
    eval_id: str
    suite: str
    source: str
    tier: str
    warning: str | None
    status: str = COMPLETED
    results: list[TaskResult] = field(default_factory=list)

    def cells(self) -> list[Cell]:
        return matrix(self.results)

    def as_json(self) -> dict[str, Any]:
        return {
            "eval_id": self.eval_id,
            "suite": {"name": self.suite, "source": self.source},
            "status": self.status,
            "tier": self.tier,
            "warning": self.warning,
            "matrix": [c.as_json() for c in self.cells()],
            "results": [r.as_json() for r in self.results],
        }


def model_prompt(task: Task) -> str:
    """What the model is asked: code to complete (HumanEval) is framed so; a missing entry point is named."""
    text = task.task
    if _is_python(text):
        return (
            "Complete this Python code. Answer with the complete function in one ```python block.\n\n"
            f"```python\n{text.rstrip()}\n```"
        )
    if task.entry_point and not re.search(rf"\b{re.escape(task.entry_point)}\b", text):
        text += f"\n\nName the function `{task.entry_point}`."
    return text


def final_code(result: dict[str, Any], task: Task) -> str | None:
    """The code to grade: the Python block defining the entry point, else the largest Python block.

    When the task itself is Python (a signature and docstring), it goes first: its imports and
    helpers are there, and the candidate's definitions replace its stubs.
    """
    blocks = [b for b in result.get("code_blocks") or [] if (b.get("language") or "python") == "python"]
    codes = [b["code"] for b in sorted(blocks, key=lambda b: b.get("syntax_error") is not None)]
    answer = str(result.get("answer") or "")
    if not codes and _is_python(answer) and "def " in answer:
        codes = [answer]
    if not codes:
        return None
    defines = [c for c in codes if task.entry_point and re.search(rf"^\s*def {task.entry_point}\(", c, re.M)]
    code = defines[0] if defines else max(codes, key=len)
    return f"{task.task.rstrip()}\n\n\n{code}\n" if _is_python(task.task) else code


def _is_python(text: str) -> bool:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in tree.body)


def _reason(run: CandidateRun) -> str:
    total = len(run.results)
    if run.passed_all:
        return f"passed {total} of {total} checks"
    if run.load_error:
        why = f"the code did not load: {run.load_error}"
    elif run.note:
        why = run.note
    else:
        failures = run.failures()
        first = failures[0]
        what = first.check.expression if first.check.kind == CALL else first.check.display
        got = f" (got {first.actual})" if first.actual is not None else ""
        detail = f"{what}: {first.error}{got}" if first.error else f"{what}{got}"
        why = f"{len(failures)} of {total} checks failed, first {detail}"
    return why[:_REASON_CHARS]


class EvalRunner:
    def __init__(
        self,
        run: RunFn,
        *,
        registry: ModelRegistry,
        chains: ChainLibrary,
        ledger: AsyncLedger,
        sandbox: Sandbox,
        clock: Clock | None = None,
        ids: IdSource = new_id,
        overrides: dict[str, Any] | None = None,
        use_cache: bool = False,
        release: ReleaseFn | None = None,
    ) -> None:
        """``overrides``: generation options for every step (a seed, max tokens); ``use_cache``: False
        measures the model afresh, True reuses cached answers (a faster rerun)."""
        self._run = run
        self.registry = registry
        self.chains = chains
        self.ledger = ledger
        self.sandbox = sandbox
        self.clock: Clock = clock or SystemClock()
        self.ids = ids
        self.overrides = dict(overrides or {})
        self.use_cache = use_cache
        #: Unloads a model once its tasks are done, before the next model loads (unless pinned).
        self.release = release

    def resolve(self, models: Sequence[str], chains: Sequence[str]) -> tuple[list[str], list[str]]:
        """The model ids and chain names, checked before anything runs. Raises EvalError."""
        if not models:
            raise EvalError("name at least one model (-m ID).", "usage")
        for name in chains:
            try:
                self.chains.get(name)
            except Exception as err:  # ChainError, with the known chains in its sentence
                raise EvalError(str(err), "usage") from None
        ids = []
        for model in models:
            try:
                ids.append(self.registry.get(model).id)
            except ProviderError as err:
                raise EvalError(str(err), "no_model") from None
        return list(dict.fromkeys(ids)), list(dict.fromkeys(chains))

    async def check_sandbox(self) -> tuple[str, str | None]:
        """The tier the code will run in, and its warning; EvalError when no code can run at all."""
        try:
            probe = await self.sandbox.run("print('ok')")
        except (SandboxUnavailable, OSError) as err:
            raise EvalError(f"no sandbox can run code here: {err}", "sandbox") from None
        if not probe.passed or probe.stdout.strip() != "ok":
            raise EvalError(f"no sandbox can run code here: a test run {probe.summary()}.", "sandbox")
        return probe.tier.value, probe.warning

    async def run(
        self,
        suite: Suite,
        models: Sequence[str],
        chains: Sequence[str],
        *,
        on_progress: Callable[[EvalProgress], None] | None = None,
        cancel: asyncio.Event | None = None,
    ) -> EvalReport:
        """Run the suite; raises EvalError before the first task if a model, chain or the sandbox is wrong."""
        model_ids, chain_names = self.resolve(models, chains)
        tier, warning = await self.check_sandbox()
        cancel = cancel or asyncio.Event()
        report = EvalReport(self.ids("eval"), suite.name, suite.source, tier, warning)
        self.ledger.submit_fn(recover_interrupted_evals)
        self.ledger.submit_fn(
            lambda led: start_eval(
                led,
                report.eval_id,
                suite=suite.name,
                source=suite.source,
                models=model_ids,
                chains=chain_names,
                task_count=len(suite.tasks),
                tier=tier,
                limits=asdict(self.sandbox.limits),
            )
        )
        total = len(suite.tasks) * len(model_ids) * len(chain_names)
        index = 0
        try:
            for model in model_ids:
                for chain in chain_names:
                    for task in suite.tasks:
                        index += 1
                        if cancel.is_set():
                            report.status = CANCELLED
                            return report
                        if on_progress:
                            on_progress(EvalProgress(index, total, model, chain, task.id))
                        result = await self.run_one(task, model, chain, cancel)
                        if result is None:
                            report.status = CANCELLED
                            return report
                        report.results.append(result)
                        self._store(report.eval_id, result)
                        if on_progress:
                            on_progress(EvalProgress(index, total, model, chain, task.id, result))
                if self.release is not None and model != model_ids[-1]:
                    # Models run one after another: do not leave each loaded (promptfoo did).
                    await self.release(model)
            return report
        except (asyncio.CancelledError, KeyboardInterrupt):
            report.status = CANCELLED
            raise
        except BaseException:  # a bug: the stored eval must not read as completed
            report.status = FAILED
            raise
        finally:
            status = report.status
            self.ledger.submit_fn(lambda led: finish_eval(led, report.eval_id, status))
            await self.ledger.flush()

    def _store(self, eval_id: str, result: TaskResult) -> None:
        row = result.as_json()
        self.ledger.submit_fn(lambda led: record_eval_result(led, eval_id, row))

    async def run_one(self, task: Task, model: str, chain: str, cancel: asyncio.Event) -> TaskResult | None:
        """One task by one model in one chain, graded; None when the user cancelled it."""
        options = RunOptions(
            chain=chain, model=model, no_fallback=True, use_cache=self.use_cache, overrides=self.overrides
        )
        started = self.clock.perf_counter()
        tokens, run_id, task_type = 0, None, None
        result: dict[str, Any] | None = None
        failure = "the run ended without an answer"
        async for event in self._run(model_prompt(task), options, cancel):
            run_id = event.run_id
            if isinstance(event, RunStarted):
                task_type = event.analysis.task_type
            elif isinstance(event, StepFinished):
                tokens += (event.usage.prompt_tokens or 0) + (event.usage.completion_tokens or 0)
            elif isinstance(event, RunFinished):
                result = event.result.as_json()
            elif isinstance(event, RunFailed):
                failure = f"the run failed: {event.message}"
            elif isinstance(event, RunCancelled):
                return None

        def done(passed: bool, reason: str, graded: CandidateRun | None = None) -> TaskResult:
            return TaskResult(
                task.id,
                model,
                chain,
                passed,
                reason[:_REASON_CHARS],
                tokens,
                seconds=self.clock.perf_counter() - started,
                check_seconds=graded.sandbox.duration if graded else 0.0,
                tier=graded.sandbox.tier.value if graded else None,
                run_id=run_id,
                task_type=task_type,
                checks_passed=graded.passed if graded else 0,
                checks_total=len(task.checks),
            )

        if result is None:
            return done(False, failure)
        code = final_code(result, task)
        if code is None:
            return done(False, "the answer has no Python code")
        try:
            graded = await run_task(self.sandbox, task, code)
        except SandboxUnavailable as err:  # it ran the probe, so something changed under us: stop the eval
            raise EvalError(f"the sandbox stopped working: {err}", "sandbox") from None
        return done(graded.passed_all, _reason(graded), graded)
