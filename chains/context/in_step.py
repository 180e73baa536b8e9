"""The context in a chain step: the block joins the task in every role's prompt, fitted to the model
each step runs on, with its notices said once per run; the run's files are recorded when it ends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from jarvis.providers.registry import ModelEntry
from jarvis.providers.tokens import estimate_prompt_tokens, estimate_text_tokens

from .. import prompts
from ..edits.formats import edit_instructions
from ..events import Event
from ..selection import NoModelAvailable, Request
from ..specs import RoleSpec
from .attachment import INCLUDED, TRIMMED, Attachment
from .fit import Fitted, fit
from .project import ProjectContext
from .tokens import exact_counts

if TYPE_CHECKING:
    from ..chain_step import ChainRun, ChainStep
    from ..ledger_async import AsyncLedger


@dataclass
class RunContextState:
    """What one run's steps share about its context (ChainRun.context_state)."""

    #: The last fit per role.
    fits: dict[str, Fitted] = field(default_factory=dict)
    #: Attachments recounted with a model's tokenizer, by model id.
    counts: dict[str, tuple[Attachment, ...]] = field(default_factory=dict)
    #: Notices already said in this run.
    said: set[str] = field(default_factory=set)
    #: The last fit of any role.
    last: Fitted | None = None


@dataclass(frozen=True, slots=True)
class ContextFitted(Event):
    """What of the attached context reached one step's prompt (the Context panel and --json read it)."""

    step_id: str
    role: str
    model_id: str
    window: int | None
    tokens: int
    files: tuple[dict[str, Any], ...]
    notices: tuple[str, ...]


def with_block(values: Mapping[str, str], block: str) -> dict[str, str]:
    """The step's values with the block after the task: every shipped chain's prompt shows {task}."""
    if not block:
        return dict(values)
    return {**values, "task": f"{values['task']}\n\n{block}"}


def whole(ctx: ProjectContext, values: Mapping[str, str]) -> dict[str, str]:
    """Values with everything attached: selection then prefers a model whose window holds it all."""
    return with_block(values, fit(ctx, budget=None, task=values.get("task", "")).block)


async def fit_for_model(
    step: ChainStep,
    run: ChainRun,
    role: RoleSpec,
    values: Mapping[str, str],
    model: ModelEntry,
    max_tokens: int,
    revise: bool,
) -> tuple[dict[str, str], Fitted]:
    """The step's values with the block fitted to ``model``'s window, and the fit."""
    ctx = run.options.context
    assert ctx is not None
    state: RunContextState = run.context_state
    window = _effective_window(step, model)
    counted = state.counts.get(model.id)
    if counted is None:
        counted = ctx.attachments
        registry = getattr(step.runner, "registry", None)
        if registry is not None:
            recount, exact = await exact_counts(registry, model.id, ctx.attachments)
            counted = tuple(recount) if exact else ctx.attachments
        state.counts[model.id] = counted
    ctx = replace(ctx, attachments=counted)
    budget = None
    # The answering role is asked for edits in a form chains.edits can apply (not a verified run's
    # candidates, whose code blocks are run as they are, unless the project's tests judge the edits).
    answering = role.name == run.answer_role and (not run.options.verify or bool(run.options.project_tests))
    if window:
        rest = estimate_prompt_tokens(prompts.build(role, values, revise=revise, **_thread(run)).messages)
        if answering:
            rest += estimate_text_tokens(_edit_instructions(ctx.attachments))
        budget = max(window - max_tokens - rest, 0)

    def suggest(need: int) -> str | None:
        try:
            other = step.selector.select(
                Request(task_type=run.analysis.task_type, role=role.name, max_tokens=0, min_context=need),
                run.stats,
            ).model
        except (NoModelAvailable, ValueError):
            return None
        # The window it would run with: the embedded backend's n_ctx is often below the registry's figure.
        other_window = _effective_window(step, other)
        if other.id == model.id or not other_window or other_window < need:
            return None
        return f"{other.id} ({other_window}-token window)"

    fitted = fit(ctx, budget=budget, model_id=model.id, window=window, task=values["task"], suggest=suggest)
    state.fits[role.name] = state.last = fitted
    block = fitted.block
    if answering and block:
        block = f"{block}\n\n{_edit_instructions(fitted.attachments)}".rstrip()
    return with_block(values, block), fitted


def _edit_instructions(attachments: Sequence[Attachment]) -> str:
    """How to write changes to the files the prompt shows (chains.edits.formats)."""
    shown = [a for a in attachments if a.status in (INCLUDED, TRIMMED)]
    return edit_instructions(shown, partial={a.rel_path for a in shown if a.status == TRIMMED})


def fresh_notices(run: ChainRun, fitted: Fitted) -> list[str]:
    """The fit's notices this run has not said yet (three roles on one model would say them thrice)."""
    said = run.context_state.said
    new = [n for n in fitted.notices if n not in said]
    said.update(new)
    return new


def event(run: ChainRun, step_id: str, role: str, fitted: Fitted) -> ContextFitted:
    return ContextFitted(
        run.run_id,
        step_id,
        role,
        fitted.model_id,
        fitted.window,
        fitted.tokens,
        tuple(a.as_json() for a in fitted.attachments),
        tuple(fitted.notices),
    )


def record(
    ledger: AsyncLedger, run_id: str, ctx: ProjectContext | None, state: RunContextState, answer_role: str
) -> None:
    """Store the run's files: as the answer's step saw them (else the last step that ran, else as given)."""
    if ctx is None:
        return
    chosen = state.fits.get(answer_role) or state.last
    attachments = chosen.attachments if chosen is not None else list(ctx.attachments)
    ledger.add_run_files(run_id, str(ctx.root), attachments, keep_content=ctx.keep_content)


def _effective_window(step: ChainStep, model: ModelEntry) -> int | None:
    """The window the model will really run with: the embedded backend loads a model with its
    configured n_ctx (4096 by default), often less than the model's trained window the registry shows."""
    registry = getattr(step.runner, "registry", None)
    try:
        provider, _ = registry.provider_for(model.id) if registry is not None else (None, "")
    except Exception:  # an unknown provider: the registry's figure is all there is
        return model.context_length
    effective = getattr(provider, "effective_n_ctx", None)
    if effective is None:
        return model.context_length
    try:
        return int(effective(model.info, None))
    except Exception:
        return model.context_length


def _thread(run: ChainRun) -> dict[str, Any]:
    # A follow-up's earlier turns count against the window too (chains.threads), when the run has them.
    return {k: getattr(run, k) for k in ("history", "lead") if hasattr(run, k)}
