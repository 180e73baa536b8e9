"""The chain runner: analyse the task, run the roles in order (with the review → revise loop), synthesize."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial

from jarvis.providers.errors import ProviderError
from jarvis.providers.registry import ModelRegistry

from .analyzer import Analysis, TaskAnalyzer
from .chain_step import ChainRun, ChainStep
from .clock import Clock, IdSource
from .context import in_step
from .events import Event, Notice, RunCancelled, RunFailed, RunFinished, RunStarted, StepFinished
from .ledger import CANCELLED, COMPLETED, FAILED
from .ledger_async import AsyncLedger
from .run_options import RunOptions, StepFailed
from .selection import ModelStats, NoModelAvailable
from .specs import ChainLibrary, ChainSpec, RoleSpec
from .step_runner import Cancelled
from .synthesizer import ResultSynthesizer, extract_code_blocks, parse_verdict
from .verify.sandbox import Sandbox
from .verify.settings import VerifySettings
from .verify.store import record_verification
from .verify.verified_step import VerifiedSession

StatsFor = Callable[[str], Awaitable[dict[str, ModelStats]]]


class ChainRunner:
    def __init__(
        self,
        registry: ModelRegistry,
        ledger: AsyncLedger,
        step: ChainStep,
        chains: ChainLibrary,
        *,
        analyzer: TaskAnalyzer,
        synthesizer: ResultSynthesizer,
        stats_for: StatsFor,
        after_run: Callable[[str], None],
        clock: Clock,
        ids: IdSource,
        sandbox: Sandbox | None = None,
    ) -> None:
        self.registry = registry
        self.ledger = ledger
        self.step = step
        self.chains = chains
        self.analyzer = analyzer
        self.synthesizer = synthesizer
        self.stats_for = stats_for
        #: Called with the task type when a run ends (the facade refreshes its stats snapshot).
        self.after_run = after_run
        self.clock = clock
        self.ids = ids
        #: Where verified runs execute code; made on first use (its tier probe runs once per runner).
        self.sandbox = sandbox

    async def run(
        self, task: str, options: RunOptions | None = None, cancel: asyncio.Event | None = None
    ) -> AsyncIterator[Event]:
        options = options or RunOptions()
        cancel = cancel or asyncio.Event()
        run_id = self.ids("run")
        started = self.clock.perf_counter()
        try:
            spec = self.chains.get(options.chain)
        except Exception as err:
            yield RunFailed(run_id, str(err), "usage")
            return
        try:
            verify = verify_settings(spec, options)
        except ValueError as err:
            yield RunFailed(run_id, str(err), "usage")
            return
        if options.model:
            try:
                self.registry.get(options.model)  # says which provider is down, or suggests a near name
            except ProviderError as err:
                yield RunFailed(run_id, str(err), "no_model")
                return
        # A follow-up ("now handle the empty list") is about what its thread's first task was about.
        earlier = options.follow_up.turns if options.follow_up else ()
        analysis = self.analyzer.analyze(earlier[0].task + "\n\n" + task if earlier else task)
        self.ledger.start_run(
            run_id,
            "chain",
            task,
            spec.name,
            analysis.as_json(),
            {
                "model": options.model,
                "strategy": options.strategy,
                "chain": spec.name,
                "no_fallback": options.no_fallback,
                "use_cache": options.use_cache,
                # How the files were given: a follow-up or re-run attaches them the same way.
                **({"context": options.context.shape()} if options.context is not None else {}),
            },
        )
        follow_up = options.follow_up
        if follow_up is not None:
            self.ledger.set_thread(run_id, follow_up.thread_id, follow_up.parent_run_id, follow_up.turn)
        yield RunStarted(run_id, spec.name, task, analysis)
        history, lead = follow_up.messages() if follow_up is not None else ([], "")
        for text in follow_up.notices if follow_up is not None else []:
            yield Notice(run_id, None, text)
        outputs: dict[str, str] = {}
        context_state: in_step.RunContextState | None = None
        try:
            run = ChainRun(
                run_id,
                analysis,
                options,
                cancel,
                await self.stats_for(analysis.task_type),
                spec.answer_role.name,
                tuple(history),
                lead,
            )
            context_state = run.context_state
            async for event in self._roles(run, spec, task, outputs, verify):
                yield event
            review = outputs.get(spec.reviewer.name) if spec.reviewer else None
            result = self.synthesizer.synthesize(outputs, spec.answer_role.name, review, analysis.language)
            cost = await self.ledger.spent_for_run(run_id)
            self.ledger.finish_run(run_id, COMPLETED, result=result.as_json())
            yield RunFinished(run_id, COMPLETED, result, self.clock.perf_counter() - started, cost)
        except Cancelled:
            self.ledger.finish_run(run_id, CANCELLED, error="Cancelled by the user.")
            yield RunCancelled(run_id)
        except (NoModelAvailable, ProviderError, StepFailed) as err:
            kind = "no_model" if isinstance(err, NoModelAvailable) else getattr(err, "kind", "failed")
            self.ledger.finish_run(run_id, FAILED, error=str(err), error_kind=kind)
            yield RunFailed(run_id, str(err), kind)
        except (GeneratorExit, asyncio.CancelledError):
            # The consumer went away (window closed, task cancelled): still a consistent record.
            self.ledger.finish_run(run_id, CANCELLED, error="The run was stopped.")
            raise
        finally:
            if context_state is not None:  # the files are part of the run's record, however it ended
                in_step.record(self.ledger, run_id, options.context, context_state, spec.answer_role.name)
            self.after_run(analysis.task_type)

    async def _roles(
        self,
        run: ChainRun,
        spec: ChainSpec,
        task: str,
        outputs: dict[str, str],
        verify: VerifySettings | None = None,
    ) -> AsyncIterator[Event]:
        """Each role in order; a reviewer asking for changes sends the work back to whoever wrote the code.

        With `verify`, the code role's candidates run in the sandbox instead (chains.verify.verified_step):
        the checks are the gate, so a reviewer sees the test results and does not send the work back."""
        analysis: Analysis = run.analysis
        values: dict[str, str] = {"task": task, "language": analysis.language or "any"}
        max_rounds = spec.max_rounds if run.options.max_rounds is None else run.options.max_rounds
        reviewer = spec.reviewer
        order = list(spec.roles)
        idx = round_ = i = 0
        revise = False
        code_role = verified_role(spec, run.options) if verify else None
        if verify and code_role is None:
            yield Notice(
                run.run_id,
                None,
                f"The chain '{spec.name}' has no role that writes code: nothing was verified.",
            )
        verified = False
        while i < len(order):
            role = order[i]
            if verify is not None and role is code_role and not revise:
                session = VerifiedSession(self.step, self._sandbox(), verify, run, role, values, idx)
                async for event in session.events():
                    yield event
                idx = session.next_idx
                outputs[role.name] = values[role.name] = session.output
                values["code"] = _code_or_text(session.output)
                values["test_results"] = session.test_results
                if session.record is not None:
                    self.ledger.submit_fn(
                        partial(
                            record_verification,
                            run_id=run.run_id,
                            record=session.record,
                            role=role.name,
                            winner_step=session.winner_step,
                        )
                    )
                verified = True
                i += 1
                continue
            shown = _with_test_results(role) if verified and role is reviewer else role
            async for event in self.step.run(
                run, idx, round_, shown, values, revise=revise and role.revise_prompt is not None
            ):
                yield event
                if isinstance(event, StepFinished):
                    outputs[role.name] = values[role.name] = event.output
                    fenced = reviewer is not None and role is not reviewer and "```" in event.output
                    if role.produces == "code" or fenced:
                        values["code"] = _code_or_text(event.output)
                    if role.produces == "plan":
                        values["plan"] = event.output
            idx += 1
            if reviewer is not None and role is reviewer and verified:
                verdict = parse_verdict(outputs[role.name])
                if verdict.decision == "revise":
                    yield Notice(
                        run.run_id,
                        None,
                        "The reviewer asked for changes; the code was chosen by "
                        "running it, so it is kept (see the review).",
                    )
            elif reviewer is not None and role is reviewer:
                verdict = parse_verdict(outputs[role.name])
                blocks = extract_code_blocks(values.get("code", ""), analysis.language)
                syntax = [b.syntax_error for b in blocks if b.syntax_error]
                issues = verdict.issues + [f"Syntax error: {s}" for s in syntax]
                if (verdict.decision == "revise" or syntax) and round_ < max_rounds:
                    round_ += 1
                    revise = True
                    values["issues"] = (
                        "\n".join(f"- {x}" for x in issues) or "- The reviewer asked for changes."
                    )
                    values["review"] = outputs[role.name]
                    why = " (the code does not parse)" if syntax else ""
                    yield Notice(
                        run.run_id, None, f"Round {round_}: the reviewer asked for changes{why}; revising."
                    )
                    i = order.index(_reviewed(spec))
                    continue
                if verdict.decision == "unclear":
                    yield Notice(
                        run.run_id, None, "The reviewer gave no clear verdict; keeping the last version."
                    )
            i += 1

    def _sandbox(self) -> Sandbox:
        if self.sandbox is None:
            self.sandbox = Sandbox()
        return self.sandbox


def verify_settings(spec: ChainSpec, options: RunOptions) -> VerifySettings | None:
    """The run's verify settings, or None when it is not verified: RunOptions.verify overrides the
    chain's switch; RunOptions.verify_settings its values. Raises ValueError with one sentence."""
    on = options.verify if options.verify is not None else bool(spec.verify and spec.verify.enabled)
    if not on:
        return None
    return (spec.verify or VerifySettings()).with_overrides(options.verify_settings)


def verified_role(spec: ChainSpec, options: RunOptions) -> RoleSpec | None:
    """The role whose candidates are verified: the last that writes code; with `--verify` on a chain
    without one (e.g. `default`), its single answering role."""
    coders = [r for r in spec.roles if r.produces == "code"]
    if coders:
        return coders[-1]
    if options.verify and spec.reviewer is None and len(spec.roles) == 1:
        return spec.roles[0]
    return None


def _with_test_results(role: RoleSpec) -> RoleSpec:
    """A reviewer's prompt that shows the test results (unless its template already asks for them)."""
    if "{test_results}" in role.prompt:
        return role
    return role.model_copy(
        update={"prompt": role.prompt + "\n\nThe code was run against the task's checks:\n{test_results}"}
    )


def _reviewed(spec: ChainSpec) -> RoleSpec:
    """Where a reviewer sends work back: the last role before it that writes code (else the one before it)."""
    reviewer = spec.reviewer
    assert reviewer is not None
    before = spec.roles[: spec.roles.index(reviewer)] or [reviewer]
    return next((r for r in reversed(before) if r.produces == "code"), before[-1])


def _code_or_text(text: str) -> str:
    blocks = extract_code_blocks(text)
    return "\n\n".join(f"```{b.language or ''}\n{b.code}\n```" for b in blocks) if blocks else text
