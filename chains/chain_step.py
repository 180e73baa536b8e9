"""One step of a chain: pick the role's model, build its prompt, run it with fallbacks, record it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from jarvis.providers.registry import ModelEntry
from jarvis.providers.types import Message

from . import prompts
from .analyzer import Analysis
from .clock import IdSource
from .context import in_step
from .events import Event, FallbackTaken, Notice, StepFinished, StepStarted
from .ledger import CANCELLED, COMPLETED, FAILED
from .ledger_async import AsyncLedger
from .run_options import RunOptions, StepFailed
from .selection import ModelStats, NoModelAvailable, Request, Selection, SelectionEngine
from .specs import RoleSpec
from .step_runner import Cancelled, StepContext, StepOutcome, StepRunner


@dataclass
class ChainRun:
    """What every step of one run shares."""

    run_id: str
    analysis: Analysis
    options: RunOptions
    cancel: asyncio.Event
    stats: dict[str, ModelStats]
    #: The role whose output is the run's answer (its steps carry the run's rating).
    answer_role: str
    #: A follow-up's earlier turns as messages before each step's own, and the lead of its prompt.
    history: tuple[Message, ...] = ()
    lead: str = ""
    #: Attached project files: what the run's steps share about them (chains.context).
    context_state: in_step.RunContextState = field(default_factory=in_step.RunContextState)


class ChainStep:
    def __init__(
        self, ledger: AsyncLedger, selector: SelectionEngine, runner: StepRunner, ids: IdSource
    ) -> None:
        self.ledger = ledger
        self.selector = selector
        self.runner = runner
        self.ids = ids

    def select(
        self,
        run: ChainRun,
        role: RoleSpec,
        est: int,
        max_tokens: int,
        exclude: frozenset[str] = frozenset(),
        min_context: int = 0,
    ) -> Selection:
        analysis, options = run.analysis, run.options
        caps = tuple(analysis.capabilities)
        if role.select.capability and role.select.capability not in caps:
            caps += (role.select.capability,)
        req = Request(
            task_type=analysis.task_type,
            language=analysis.language,
            role=role.name,
            capabilities=caps,
            prompt_tokens=est,
            max_tokens=max_tokens,
            strategy=options.strategy or role.select.strategy,
            explicit=options.model or role.select.model,
            exclude=exclude,
            min_context=min_context,
        )
        return self.selector.select(req, run.stats)

    async def run(
        self, run: ChainRun, idx: int, round_: int, role: RoleSpec, values: dict[str, str], *, revise: bool
    ) -> AsyncIterator[Event]:
        options = run.options
        #: --no-fallback with --model: that model or nothing.
        pinned = options.no_fallback and options.model is not None
        gen_options = role.options.model_copy(update=options.overrides) if options.overrides else role.options
        max_tokens = gen_options.max_tokens or 512
        given = values
        if options.context is not None:
            values = in_step.whole(options.context, values)
        draft = prompts.build(role, values, revise=revise, history=run.history, lead=run.lead)
        try:
            selection = self.select(run, role, draft.est_tokens, max_tokens)
        except NoModelAvailable:
            # Perhaps nothing holds the whole history: select for the task alone, then trim to fit.
            bare = prompts.build(
                role, {"task": given["task"], "language": given["language"]}, revise=revise, lead=run.lead
            )
            selection = self.select(run, role, bare.est_tokens, max_tokens)
        model = selection.model
        fitted = None
        if options.context is not None:
            values, fitted = await in_step.fit_for_model(self, run, role, given, model, max_tokens, revise)
        built = prompts.build(
            role,
            values,
            revise=revise,
            window=model.context_length,
            max_tokens=max_tokens,
            model_id=model.id,
            history=run.history,
            lead=run.lead,
        )
        if fitted is not None:
            built.notices[:0] = in_step.fresh_notices(run, fitted)
        step_id = self.ids("step")
        fallbacks = [] if pinned else list(selection.fallbacks)
        self.ledger.start_step(
            step_id,
            run.run_id,
            idx,
            role.name,
            round_,
            model.id,
            model.provider,
            selection.reason,
            answer=role.name == run.answer_role,
        )
        yield StepStarted(
            run.run_id,
            step_id,
            role.name,
            round_,
            model.id,
            model.provider,
            selection.reason,
            tuple(f.id for f in fallbacks),
        )
        if fitted is not None:
            yield in_step.event(run, step_id, role.name, fitted)
        for text in built.notices:
            yield Notice(run.run_id, step_id, text)
        outcome = StepOutcome(notices=list(built.notices))
        ctx = StepContext(
            run.run_id,
            step_id,
            role.name,
            run.analysis.task_type,
            run.cancel,
            use_cache=options.use_cache,
            priority=options.priority,
        )

        def reselect(exclude: frozenset[str], min_context: int) -> list[ModelEntry]:
            try:
                again = self.select(run, role, built.est_tokens, max_tokens, exclude, min_context)
            except NoModelAvailable:
                return []
            return [again.model, *again.fallbacks]

        first_failure: FallbackTaken | None = None
        try:
            async for event in self.runner.run(
                ctx,
                [model, *fallbacks],
                built.messages,
                gen_options,
                built.est_tokens,
                outcome,
                reselect=None if pinned else reselect,
            ):
                if isinstance(event, FallbackTaken) and first_failure is None:
                    first_failure = event
                yield event
        except Cancelled:
            self.ledger.finish_step(
                step_id, CANCELLED, "", None, notices=outcome.notices, error="Cancelled by the user."
            )
            raise
        if outcome.completion is None:
            err = outcome.error
            self.ledger.finish_step(
                step_id, FAILED, "", None, notices=outcome.notices, error=str(err) if err else "failed"
            )
            why = " (--no-fallback: no other model was tried)" if pinned else ""
            raise StepFailed(
                f"The {role.name} step failed on every model tried{why}. Last error: {err}",
                getattr(err, "kind", "failed"),
            )
        c = outcome.completion
        usage = c.usage(cached=outcome.cached)
        final = outcome.model or model
        reason = None
        if first_failure is not None and final.id != model.id:
            # The selection's reason explained the first model; say why another one answered.
            reason = (
                f"fallback: {first_failure.from_model} failed ({first_failure.error_kind}), {final.id}"
                f" answered; first choice because {selection.reason}"
            )
        self.ledger.finish_step(
            step_id,
            COMPLETED,
            c.text,
            usage,
            model_id=final.id,
            provider=final.provider,
            notices=outcome.notices,
            reason=reason,
        )
        yield StepFinished(run.run_id, step_id, role.name, final.id, COMPLETED, c.text, usage)
