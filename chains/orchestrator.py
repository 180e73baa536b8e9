"""ModelOrchestrator: analyse → select per role → run the chain with fallbacks → synthesize, as a stream of events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jarvis.providers.errors import ProviderError
from jarvis.providers.registry import ModelEntry, ModelRegistry
from jarvis.providers.tokens import estimate_prompt_tokens
from jarvis.providers.types import GenerationOptions, Message

from . import prompts
from .analyzer import Analysis, TaskAnalyzer
from .events import (Event, Notice, RunCancelled, RunFailed, RunFinished, RunStarted, StepFinished, StepStarted)
from .ledger import CANCELLED, COMPLETED, FAILED, AsyncLedger, new_id
from .selection import ModelStats, NoModelAvailable, Request, SelectionEngine
from .specs import ChainLibrary, ChainSpec, RoleSpec
from .step_runner import Cancelled, StepContext, StepOutcome, StepRunner
from .synthesizer import ResultSynthesizer, extract_code_blocks, parse_verdict


@dataclass(frozen=True)
class RunOptions:
    chain: str = "default"
    #: Use this model for every role (it must pass the hard filters).
    model: str | None = None
    strategy: str | None = None
    max_rounds: int | None = None
    use_cache: bool = True
    #: Options that override every role's own (e.g. a seed for repeatable runs).
    overrides: dict[str, Any] = field(default_factory=dict)


class ModelOrchestrator:
    def __init__(
        self,
        registry: ModelRegistry,
        ledger: AsyncLedger,
        selector: SelectionEngine,
        runner: StepRunner,
        *,
        chains: ChainLibrary,
        analyzer: TaskAnalyzer | None = None,
        synthesizer: ResultSynthesizer | None = None,
        stats: Callable[[str], dict[str, ModelStats]] | None = None,
    ) -> None:
        self.registry = registry
        self.ledger = ledger
        self.selector = selector
        self.runner = runner
        self.chains = chains
        self.analyzer = analyzer or TaskAnalyzer()
        self.synthesizer = synthesizer or ResultSynthesizer()
        #: Computes selection stats for a task type; runs on the ledger thread.
        self._stats_fn = stats
        self._stats: dict[str, dict[str, ModelStats]] = {}
        self._pending_refresh: asyncio.Task | None = None

    # -- stats snapshot (kept fresh after each run, off the first-token path) --
    async def stats_for(self, task_type: str) -> dict[str, ModelStats]:
        if self._stats_fn is None:
            return {}
        if task_type not in self._stats:
            self._stats[task_type] = await self.ledger.call_fn(self._stats_fn, task_type)
        return self._stats[task_type]

    async def refresh_stats(self, task_type: str | None = None) -> None:
        if self._stats_fn is None:
            return
        for t in ([task_type] if task_type else list(self._stats)):
            self._stats[t] = await self.ledger.call_fn(self._stats_fn, t)

    # -- chains ------------------------------------------------------------
    def _select(self, analysis: Analysis, role: RoleSpec, options: RunOptions, est: int, max_tokens: int,
                stats: dict[str, ModelStats], exclude: frozenset[str] = frozenset(), min_context: int = 0):
        caps = tuple(analysis.capabilities)
        if role.select.capability and role.select.capability not in caps:
            caps += (role.select.capability,)
        req = Request(task_type=analysis.task_type, language=analysis.language, role=role.name, capabilities=caps,
                      prompt_tokens=est, max_tokens=max_tokens, strategy=options.strategy or role.select.strategy,
                      explicit=options.model or role.select.model, exclude=exclude, min_context=min_context)
        return self.selector.select(req, stats)

    async def run(self, task: str, options: RunOptions | None = None,
                  cancel: asyncio.Event | None = None) -> AsyncIterator[Event]:
        options = options or RunOptions()
        cancel = cancel or asyncio.Event()
        run_id = new_id("run")
        started = time.perf_counter()
        try:
            spec = self.chains.get(options.chain)
        except Exception as err:
            yield RunFailed(run_id, str(err), "usage")
            return
        if options.model:
            try:
                self.registry.get(options.model)  # says which provider is down, or suggests a near name
            except ProviderError as err:
                yield RunFailed(run_id, str(err), "no_model")
                return
        analysis = self.analyzer.analyze(task)
        summary = analysis.as_json()
        self.ledger.submit("start_run", run_id, "chain", task, spec.name, summary,
                           {"model": options.model, "strategy": options.strategy, "chain": spec.name})
        yield RunStarted(run_id, spec.name, task, summary)
        outputs: dict[str, str] = {}
        try:
            stats = await self.stats_for(analysis.task_type)
            async for event in self._run_chain(run_id, spec, task, analysis, options, cancel, stats, outputs):
                yield event
            review = outputs.get(spec.reviewer.name) if spec.reviewer else None
            final_role = _answer_role(spec)
            result = self.synthesizer.synthesize(outputs, final_role, review, analysis.language)
            cost = await self.ledger.call("spent_for_run", run_id)
            self.ledger.submit("finish_run", run_id, COMPLETED, result=result.as_json())
            yield RunFinished(run_id, COMPLETED, result.as_json(), time.perf_counter() - started, cost)
        except Cancelled:
            self.ledger.submit("finish_run", run_id, CANCELLED, error="Cancelled by the user.")
            yield RunCancelled(run_id)
        except (NoModelAvailable, ProviderError, StepFailed) as err:
            kind = "no_model" if isinstance(err, NoModelAvailable) else getattr(err, "kind", "failed")
            self.ledger.submit("finish_run", run_id, FAILED, error=str(err), error_kind=kind)
            yield RunFailed(run_id, str(err), kind)
        except (GeneratorExit, asyncio.CancelledError):
            # The consumer went away (window closed, task cancelled): still a consistent record.
            self.ledger.submit("finish_run", run_id, CANCELLED, error="The run was stopped.")
            raise
        finally:
            if self._stats_fn is not None:
                # Scores change with every run; recompute now, off the next run's first-token path.
                self._pending_refresh = asyncio.get_running_loop().create_task(
                    self.refresh_stats(analysis.task_type))

    async def _run_chain(self, run_id: str, spec: ChainSpec, task: str, analysis: Analysis, options: RunOptions,
                         cancel: asyncio.Event, stats: dict[str, ModelStats], outputs: dict[str, str]):
        values: dict[str, str] = {"task": task, "language": analysis.language or "any"}
        max_rounds = spec.max_rounds if options.max_rounds is None else options.max_rounds
        reviewer = spec.reviewer
        idx = 0
        order = list(spec.roles)
        round_ = 0
        revise = False
        i = 0
        while i < len(order):
            role = order[i]
            async for event in self._step(run_id, idx, round_, role, values, analysis, options, cancel, stats,
                                          revise=revise and role.revise_prompt is not None):
                yield event
                if isinstance(event, StepFinished):
                    outputs[role.name] = event.output
                    values[role.name] = event.output
                    if role.name in ("executor", "coder", "implementer") or (reviewer and role is not reviewer
                                                                              and "```" in event.output):
                        values["code"] = _code_or_text(event.output)
                    if role.name == "planner":
                        values["plan"] = event.output
            idx += 1
            if reviewer is not None and role is reviewer:
                verdict = parse_verdict(outputs[role.name])
                blocks = extract_code_blocks(values.get("code", ""), analysis.language)
                syntax = [b.syntax_error for b in blocks if b.syntax_error]
                issues = verdict.issues + [f"Syntax error: {s}" for s in syntax]
                if (verdict.decision == "revise" or syntax) and round_ < max_rounds:
                    round_ += 1
                    revise = True
                    values["issues"] = "\n".join(f"- {x}" for x in issues) or "- The reviewer asked for changes."
                    values["review"] = outputs[role.name]
                    yield Notice(run_id, None, f"Round {round_}: the reviewer asked for changes"
                                               + (" (the code does not parse)" if syntax else "") + "; revising.")
                    # Back to the role before the reviewer (the executor), then review again.
                    i = order.index(reviewer) - 1
                    continue
                if verdict.decision == "unclear":
                    yield Notice(run_id, None, "The reviewer gave no clear verdict; keeping the last version.")
            i += 1

    async def _step(self, run_id: str, idx: int, round_: int, role: RoleSpec, values: dict[str, str],
                    analysis: Analysis, options: RunOptions, cancel: asyncio.Event,
                    stats: dict[str, ModelStats], *, revise: bool) -> AsyncIterator[Event]:
        gen_options = role.options.model_copy(update=options.overrides) if options.overrides else role.options
        max_tokens = gen_options.max_tokens or 512
        draft = prompts.build(role, values, revise=revise)
        try:
            selection = self._select(analysis, role, options, draft.est_tokens, max_tokens, stats)
        except NoModelAvailable:
            # Perhaps nothing holds the whole history: select for the task alone, then trim to fit.
            bare = prompts.build(role, {"task": values["task"], "language": values["language"]}, revise=revise)
            selection = self._select(analysis, role, options, bare.est_tokens, max_tokens, stats)
        model = selection.model
        built = prompts.build(role, values, revise=revise, window=model.context_length, max_tokens=max_tokens,
                              model_id=model.id)
        step_id = new_id("step")
        self.ledger.submit("start_step", step_id, run_id, idx, role.name, round_, model.id, model.provider,
                           selection.reason)
        yield StepStarted(run_id, step_id, role.name, round_, model.id, model.provider, selection.reason,
                          tuple(f.id for f in selection.fallbacks))
        for text in built.notices:
            yield Notice(run_id, step_id, text)
        outcome = StepOutcome(notices=list(built.notices))
        ctx = StepContext(run_id, step_id, role.name, analysis.task_type, cancel)

        def reselect(exclude: frozenset[str], min_context: int) -> list[ModelEntry]:
            try:
                again = self._select(analysis, role, options, built.est_tokens, max_tokens, stats, exclude,
                                     min_context)
            except NoModelAvailable:
                return []
            return [again.model, *again.fallbacks]

        try:
            async for event in self.runner.run(ctx, [model, *selection.fallbacks], built.messages, gen_options,
                                               built.est_tokens, outcome, reselect=reselect):
                yield event
        except Cancelled:
            self.ledger.submit("finish_step", step_id, CANCELLED, "", None, notices=outcome.notices,
                               error="Cancelled by the user.")
            raise
        if outcome.completion is None:
            err = outcome.error
            self.ledger.submit("finish_step", step_id, FAILED, "", None, notices=outcome.notices,
                               error=str(err) if err else "failed")
            raise StepFailed(f"The {role.name} step failed on every model tried. Last error: {err}",
                             getattr(err, "kind", "failed"))
        c = outcome.completion
        usage = {"prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens, "ttft_s": c.ttft_s,
                 "tokens_per_s": c.tokens_per_s, "total_s": c.total_s, "finish_reason": c.finish_reason,
                 "usage_estimated": c.usage_estimated, "cost_usd": c.cost_usd, "cached": outcome.cached}
        final_model = outcome.model or model
        self.ledger.submit("finish_step", step_id, COMPLETED, c.text, usage, model_id=final_model.id,
                           provider=final_model.provider, notices=outcome.notices)
        yield StepFinished(run_id, step_id, role.name, final_model.id, COMPLETED, c.text, usage)

    # -- compare -----------------------------------------------------------
    async def compare(self, prompt: str, model_ids: Sequence[str], options: GenerationOptions | None = None,
                      cancel: asyncio.Event | None = None) -> AsyncIterator[Event]:
        """One prompt to 2-4 models; concurrent when the resource guard allows, else one after another."""
        options = options or GenerationOptions(max_tokens=512)
        cancel = cancel or asyncio.Event()
        run_id = new_id("cmp")
        started = time.perf_counter()
        analysis = self.analyzer.analyze(prompt)
        try:
            entries = [self.registry.get(m) for m in model_ids]
        except ProviderError as err:
            yield RunFailed(run_id, str(err), "no_model")
            return
        if not 2 <= len(entries) <= 4:
            yield RunFailed(run_id, "Compare takes 2 to 4 models.", "usage")
            return
        labels = [chr(ord("A") + i) for i in range(len(entries))]
        n_ctx = options.num_ctx or 4096
        plan = self.runner.guard.plan_parallel([(e.info, n_ctx) for e in entries],
                                               [e.provider_kind == "embedded" for e in entries])
        self.ledger.submit("start_run", run_id, "compare", prompt, None, analysis.as_json(),
                           {"models": list(model_ids), "parallel": plan.concurrent})
        yield RunStarted(run_id, "compare", prompt, analysis.as_json())
        yield Notice(run_id, None, ("Running side by side: " if plan.concurrent else "Running one after another: ")
                     + plan.reason)
        messages = [Message("user", prompt)]
        est = estimate_prompt_tokens(messages)
        answers: dict[str, dict[str, Any]] = {}

        async def one(label: str, idx: int, entry: ModelEntry, sink) -> None:
            step_id = new_id("step")
            self.ledger.submit("start_step", step_id, run_id, idx, label, 0, entry.id, entry.provider, "chosen by you")
            await sink(StepStarted(run_id, step_id, label, 0, entry.id, entry.provider, "chosen by you"))
            outcome = StepOutcome()
            ctx = StepContext(run_id, step_id, label, analysis.task_type, cancel)
            try:
                async for event in self.runner.run(ctx, [entry], messages, options, est, outcome):
                    await sink(event)
            except Cancelled:
                self.ledger.submit("finish_step", step_id, CANCELLED, "", None)
                answers[label] = {"label": label, "model": entry.id, "status": CANCELLED, "output": ""}
                raise
            c = outcome.completion
            if c is None:
                msg = str(outcome.error) if outcome.error else "failed"
                self.ledger.submit("finish_step", step_id, FAILED, "", None, error=msg)
                answers[label] = {"label": label, "model": entry.id, "status": FAILED, "error": msg, "output": ""}
                await sink(StepFinished(run_id, step_id, label, entry.id, FAILED, "", {"error": msg}))
                return
            usage = {"prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens, "ttft_s": c.ttft_s,
                     "tokens_per_s": c.tokens_per_s, "total_s": c.total_s, "finish_reason": c.finish_reason,
                     "chars": len(c.text), "cached": outcome.cached}
            self.ledger.submit("finish_step", step_id, COMPLETED, c.text, usage)
            answers[label] = {"label": label, "model": entry.id, "status": COMPLETED, "output": c.text,
                              "usage": usage, "step_id": step_id}
            await sink(StepFinished(run_id, step_id, label, entry.id, COMPLETED, c.text, usage))

        queue: asyncio.Queue = asyncio.Queue()
        try:
            if plan.concurrent:
                tasks = [asyncio.create_task(one(lab, i, e, queue.put)) for i, (lab, e) in enumerate(zip(labels, entries))]
                waiter = asyncio.ensure_future(asyncio.gather(*tasks))
                while True:
                    getter = asyncio.ensure_future(queue.get())
                    done, _ = await asyncio.wait({getter, waiter}, return_when=asyncio.FIRST_COMPLETED)
                    if getter in done:
                        yield getter.result()
                        continue
                    getter.cancel()
                    while not queue.empty():
                        yield queue.get_nowait()
                    waiter.result()  # re-raise Cancelled
                    break
            else:
                for i, (lab, e) in enumerate(zip(labels, entries)):
                    task = asyncio.create_task(one(lab, i, e, queue.put))
                    while not (task.done() and queue.empty()):
                        getter = asyncio.ensure_future(queue.get())
                        done, _ = await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                        if getter in done:
                            yield getter.result()
                        else:
                            getter.cancel()
                    task.result()
        except Cancelled:
            self.ledger.submit("finish_run", run_id, CANCELLED, error="Cancelled by the user.")
            yield RunCancelled(run_id)
            return
        result = {"answers": [answers[lab] for lab in labels if lab in answers], "parallel": plan.concurrent,
                  "reason": plan.reason, "task_type": analysis.task_type}
        status = COMPLETED if any(a["status"] == COMPLETED for a in result["answers"]) else FAILED
        self.ledger.submit("finish_run", run_id, status, result=result,
                           error=None if status == COMPLETED else "Every model failed.")
        if status == COMPLETED:
            yield RunFinished(run_id, status, result, time.perf_counter() - started, 0.0)
        else:
            yield RunFailed(run_id, "Every model failed: " + "; ".join(a.get("error", "") for a in result["answers"]),
                            "failed")


class StepFailed(Exception):
    def __init__(self, message: str, kind: str = "failed") -> None:
        super().__init__(message)
        self.kind = kind


def _answer_role(spec: ChainSpec) -> str:
    """The answer is the executor's latest output in a reviewed chain, else the last role's."""
    if spec.reviewer is not None:
        before = [r for r in spec.roles if r.kind != "review"]
        return before[-1].name
    return spec.roles[-1].name


def _code_or_text(text: str) -> str:
    blocks = extract_code_blocks(text)
    return "\n\n".join(f"```{b.language or ''}\n{b.code}\n```" for b in blocks) if blocks else text
