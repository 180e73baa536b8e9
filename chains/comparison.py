"""A comparison: one prompt to 2-4 models, side by side when memory allows, else one after another."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jarvis.providers.errors import ProviderError
from jarvis.providers.registry import ModelEntry, ModelRegistry
from jarvis.providers.tokens import estimate_prompt_tokens
from jarvis.providers.types import GenerationOptions, Message, Usage

from .analyzer import TaskAnalyzer
from .clock import Clock, IdSource
from .events import Event, Notice, RunCancelled, RunFailed, RunFinished, RunStarted, StepFinished, StepStarted
from .history_fit import fit_history
from .ledger import CANCELLED, COMPLETED, FAILED
from .ledger_async import AsyncLedger
from .step_runner import Cancelled, StepContext, StepOutcome, StepRunner

if TYPE_CHECKING:
    from .threads import FollowUp

_DONE = object()
#: Unloads a model that has had its turn unless the user pinned it; the sentence to show, or None.
ReleaseFn = Callable[[str], Awaitable[str | None]]


@dataclass
class CompareAnswer:
    label: str  # A, B, C, D
    model: str
    status: str
    output: str = ""
    usage: Usage | None = None
    step_id: str | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "label": self.label,
            "model": self.model,
            "status": self.status,
            "output": self.output,
        }
        if self.error is not None:
            out["error"] = self.error
        if self.usage is not None:
            out["usage"] = {**self.usage.as_json(), "chars": len(self.output)}
        if self.step_id is not None:
            out["step_id"] = self.step_id
        return out


@dataclass
class ComparisonResult:
    answers: list[CompareAnswer]
    parallel: bool
    reason: str
    task_type: str

    def as_json(self) -> dict[str, Any]:
        return {
            "answers": [a.as_json() for a in self.answers],
            "parallel": self.parallel,
            "reason": self.reason,
            "task_type": self.task_type,
        }


class Comparison:
    def __init__(
        self,
        registry: ModelRegistry,
        ledger: AsyncLedger,
        runner: StepRunner,
        *,
        analyzer: TaskAnalyzer,
        clock: Clock,
        ids: IdSource,
        release: ReleaseFn | None = None,
    ) -> None:
        self.registry = registry
        self.ledger = ledger
        self.runner = runner
        self.analyzer = analyzer
        self.clock = clock
        self.ids = ids
        #: Set by the composition root (app/engine.py) to the model lifecycle's `release`.
        self.release = release

    async def compare(
        self,
        prompt: str,
        model_ids: Sequence[str],
        options: GenerationOptions | None = None,
        cancel: asyncio.Event | None = None,
        follow_up: FollowUp | None = None,
    ) -> AsyncIterator[Event]:
        """Events of all models through one queue, in the order they happen. ``follow_up``: a next turn,
        each model continuing its own earlier answers (chains.threads.compare_continuation)."""
        options = options or GenerationOptions(max_tokens=512)
        cancel = cancel or asyncio.Event()
        run_id = self.ids("cmp")
        started = self.clock.perf_counter()
        earlier = next(iter(follow_up.lanes.values()), ()) if follow_up else ()
        analysis = self.analyzer.analyze(earlier[0].task + "\n\n" + prompt if earlier else prompt)
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
        plan = self.runner.guard.plan_parallel(
            [(e.info, n_ctx) for e in entries], [e.provider_kind == "embedded" for e in entries]
        )
        self.ledger.start_run(
            run_id,
            "compare",
            prompt,
            None,
            analysis.as_json(),
            {"models": list(model_ids), "parallel": plan.concurrent},
        )
        if follow_up is not None:
            self.ledger.set_thread(run_id, follow_up.thread_id, follow_up.parent_run_id, follow_up.turn)
        yield RunStarted(run_id, "compare", prompt, analysis)
        how = "Running side by side: " if plan.concurrent else "Running one after another: "
        yield Notice(run_id, None, how + plan.reason)

        def messages_for(label: str, entry: ModelEntry) -> list[Message]:
            """The prompt, after this model's own earlier turns (cut, visibly, to fit its window)."""
            if follow_up is None:
                return [Message("user", prompt)]
            history, lead = follow_up.messages(label)
            ask = Message("user", lead + prompt)
            window = entry.context_length
            room = window - (options.max_tokens or 512) - estimate_prompt_tokens([ask]) if window else 0
            if window and estimate_prompt_tokens(history) > room:
                fitted = fit_history(history, max(room, window // 4))
                history = fitted.messages
                queue.put_nowait(
                    Notice(
                        run_id,
                        None,
                        f"{label}: trimmed the earlier turns ({fitted.left_out:,} characters left out) to fit"
                        f" {entry.id}'s {window}-token window.",
                    )
                )
            return [*history, ask]

        answers: dict[str, CompareAnswer] = {}
        queue: asyncio.Queue[Any] = asyncio.Queue()

        async def one(label: str, idx: int, entry: ModelEntry) -> None:
            step_id = self.ids("step")
            self.ledger.start_step(step_id, run_id, idx, label, 0, entry.id, entry.provider, "chosen by you")
            queue.put_nowait(
                StepStarted(run_id, step_id, label, 0, entry.id, entry.provider, "chosen by you")
            )
            outcome = StepOutcome()
            ctx = StepContext(run_id, step_id, label, analysis.task_type, cancel)
            messages = messages_for(label, entry)
            est = estimate_prompt_tokens(messages)
            try:
                async for event in self.runner.run(ctx, [entry], messages, options, est, outcome):
                    queue.put_nowait(event)
            except Cancelled:
                self.ledger.finish_step(step_id, CANCELLED, "", None)
                answers[label] = CompareAnswer(label, entry.id, CANCELLED)
                raise
            c = outcome.completion
            if c is None:
                msg = str(outcome.error) if outcome.error else "failed"
                self.ledger.finish_step(step_id, FAILED, "", None, error=msg)
                answers[label] = CompareAnswer(label, entry.id, FAILED, error=msg)
                queue.put_nowait(StepFinished(run_id, step_id, label, entry.id, FAILED, "", error=msg))
                return
            usage = c.usage(cached=outcome.cached)
            self.ledger.finish_step(step_id, COMPLETED, c.text, usage)
            answers[label] = CompareAnswer(label, entry.id, COMPLETED, c.text, usage, step_id)
            queue.put_nowait(StepFinished(run_id, step_id, label, entry.id, COMPLETED, c.text, usage))

        async def all_models() -> None:
            try:
                if plan.concurrent:
                    async with asyncio.TaskGroup() as group:
                        for i, (label, entry) in enumerate(zip(labels, entries, strict=True)):
                            group.create_task(one(label, i, entry))
                else:
                    for i, (label, entry) in enumerate(zip(labels, entries, strict=True)):
                        await one(label, i, entry)
                        # One after another because they do not fit together: free this model's
                        # memory before the next loads (not after the last, nor if it runs again).
                        later = {e.id for e in entries[i + 1 :]}
                        if self.release is not None and later and entry.id not in later:
                            note = await self.release(entry.id)
                            if note:
                                queue.put_nowait(Notice(run_id, None, note))
            finally:
                queue.put_nowait(_DONE)

        producer = asyncio.create_task(all_models())
        try:
            while (event := await queue.get()) is not _DONE:
                yield event
            try:
                await producer
            except* Cancelled:
                self.ledger.finish_run(run_id, CANCELLED, error="Cancelled by the user.")
                cancelled = True
            else:
                cancelled = False
        finally:
            producer.cancel()  # the consumer went away: stop the models too
        if cancelled:
            yield RunCancelled(run_id)
            return
        result = ComparisonResult(
            [answers[lab] for lab in labels if lab in answers],
            plan.concurrent,
            plan.reason,
            analysis.task_type,
        )
        status = COMPLETED if any(a.status == COMPLETED for a in result.answers) else FAILED
        self.ledger.finish_run(
            run_id,
            status,
            result=result.as_json(),
            error=None if status == COMPLETED else "Every model failed.",
        )
        if status == COMPLETED:
            yield RunFinished(run_id, status, result, self.clock.perf_counter() - started, 0.0)
        else:
            yield RunFailed(
                run_id, "Every model failed: " + "; ".join(a.error or "" for a in result.answers), "failed"
            )
