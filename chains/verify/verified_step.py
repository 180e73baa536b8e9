"""The verified code step: the code role's candidates run in the sandbox, the one that really works wins.

    session = VerifiedSession(step, sandbox, settings, run, role, values, idx)
    async for event in session.events(): ...
    session.output, session.record, session.next_idx

Flow: checks = given + extracted (shown as ChecksFound); the greedy candidate is a normal step; if
it fails a check, the other candidates are sampled (each a visible step) until one passes. The first
to pass every check is confirmed: the model is asked once for inputs and a few more samples are
compared with it on them until no other behaviour can still lead. When none passes, the model is
asked for inputs if agreement must break a tie, and the best one or two are repaired with the
failures, a repair kept only if it breaks no check that passed. If still none passes, fresh samples
("another try") are drawn until one does, which is then confirmed like the first. Budgets (model
calls, seconds of execution) bound it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

from jarvis.providers.types import GenerationOptions

from ..chain_step import ChainRun, ChainStep
from ..events import Event, Notice, StepFinished, StepStarted
from ..run_options import StepFailed
from ..specs import RoleSpec
from ..step_runner import Cancelled
from .checks import Check
from .events import CandidateChecked, ChecksFound, VerificationFinished
from .extract import calls_from_text
from .feedback import failure_report, repair_keeps_passes
from .harness import CandidateRun, InputsRun, run_checks, run_inputs
from .mutate import mutated_calls
from .pick import CandidateReport, Pick, code_hash
from .rank import Candidate, Ranking, behaves, rank_candidates
from .sandbox import Sandbox, SandboxUnavailable
from .settings import VerifySettings
from .task_checks import candidate_code, gather_checks, task_prelude
from .tiers import confinement_notice

# Saying what went wrong before fixing it is what makes a small model change its code (self-debugging,
# Chen et al. 2023): asked only to "fix" it, Qwen2.5-Coder-1.5B sent back the same code in most repairs on
# the HumanEval benchmark. Asked to explain in prose first, it explained and then gave no code at all (or
# repeated one sentence until max_tokens at temperature 0); so the explanation is one comment line
# opening the code block.
REPAIR_PROMPT = (
    "Task: {task}\n\nYour code:\n{code}\n\nIt was run against the task's checks and failed:\n"
    "{failures}\n\nAnswer with the complete corrected code in one ```python block. Start the block with "
    "one comment line, `# Mistake: ...`, saying in a few words what the code did differently from the "
    "task's words for the first failing check; then the corrected code."
)
INPUTS_SYSTEM = "You write test inputs for Python functions. Answer with Python call expressions only."
INPUTS_PROMPT = (
    "Task: {task}\n\nWrite {count} different calls to `{entry}` that exercise it, including "
    "edge cases, one per line, as Python expressions like {entry}(...). Only the calls: no "
    "expected values, no assert, no explanation."
)


@dataclass
class _Candidate:
    """A candidate as the session tracks it: the answer text, its code, where it came from."""

    index: int
    text: str
    code: str
    origin: str  # "greedy", "sample", "repair of 2 (round 1)"
    step_id: str | None
    run: CandidateRun | None = None
    inputs: InputsRun | None = None  # its outputs on the model-proposed calls, once agreement asked

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.inputs.outputs if self.inputs else ()


def _reason(ranking: Ranking, winner: _Candidate) -> str:
    """The ranking's grounds, then the winner named as the user saw it ("candidate 3")."""
    if winner.origin == "greedy":
        who = "the greedy candidate"
    elif winner.origin == "sample":
        who = f"candidate {winner.index + 1}, sampled"
    elif winner.origin == "retry":
        who = f"candidate {winner.index + 1}, sampled after the repairs"
    else:
        who = f"candidate {winner.index + 1}, a {winner.origin}"
    return "; ".join([*ranking.grounds, who + (", first among equals" if ranking.tie else "")])


class BudgetSpent(Exception):
    """The verification's model calls or execution seconds are used up (the message says which)."""


class VerifiedSession:
    def __init__(
        self,
        step: ChainStep,
        sandbox: Sandbox,
        settings: VerifySettings,
        run: ChainRun,
        role: RoleSpec,
        values: dict[str, str],
        idx: int,
    ) -> None:
        self.step = step
        self.sandbox = sandbox
        self.settings = settings
        self.run = run
        self.role = role
        self.values = values
        self.next_idx = idx
        self.task = values["task"]
        self.prelude = task_prelude(self.task)
        self.checks: list[Check] = []
        self.entry: str | None = None
        self.calls: list[str] = []
        self.kept: list[_Candidate] = []
        self.rejected: list[dict[str, Any]] = []
        self.model_calls = 0
        self.exec_seconds = 0.0
        self.rounds = 0
        self.stopped: str = ""  # why the search stopped early (a budget), for the record
        #: After events(): the winner's answer text, the summary a reviewer sees, what the ledger keeps.
        self.output = ""
        self.test_results = ""
        self.record: dict[str, Any] | None = None
        self.winner_step: str | None = None
        self._last_step: str | None = None
        self._repaired: _Candidate | None = None
        self._retries: set[int] = set()  # indexes of the samples drawn after the repairs
        self._asked_inputs = False
        self._sampling_failed = False  # a sample's step failed: the provider is not answering

    # -- the flow ------------------------------------------------------------------------------------
    async def events(self) -> AsyncIterator[Event]:
        run_id = self.run.run_id
        options = self.run.options
        if options.project_tests:  # files attached and --test-cmd: the project's tests judge the edits
            from .project_mode import ProjectMode  # it builds on this module

            async for event in ProjectMode(self).events():
                yield event
            return
        try:
            self.checks, self.entry = gather_checks(
                self.task, tests=options.tests, examples=options.examples, extract=self.settings.examples
            )
        except ValueError as err:
            raise StepFailed(f"Cannot verify: {err}.", "usage") from None
        try:
            choice = await self.sandbox.tier()
        except SandboxUnavailable as err:
            yield Notice(run_id, None, f"Cannot verify: {err}; the code was not run.")
            async for event in self._plain(f"no sandbox can run code here ({err})"):
                yield event
            return
        limits = self.sandbox.limits.describe()
        if options.confinement_notice:
            yield Notice(run_id, None, confinement_notice(choice, limits))
        if choice.warning:
            yield Notice(run_id, None, f"Warning: {choice.warning}.")
        yield ChecksFound(
            run_id,
            tuple(c.to_json() | {"display": c.display} for c in self.checks),
            self.entry,
            choice.tier.value,
            limits,
        )
        try:
            async for event in self._search():
                yield event
        except BudgetSpent as err:
            self.stopped = str(err)
            yield Notice(run_id, None, f"Verification stopped: {err}.")
        except SandboxUnavailable as err:
            self.stopped = f"the sandbox stopped working: {err}"
            yield Notice(run_id, None, f"Verification stopped: {self.stopped}.")
        if not self.kept:
            return  # the greedy step itself failed: StepFailed has already ended the run
        async for event in self._finish():
            yield event

    async def _plain(self, why: str) -> AsyncIterator[Event]:
        """No sandbox: the greedy candidate is the answer, unverified."""
        async for event in self._sample(0):
            yield event
        self.output = self.kept[0].text
        status = f"unverified: {why}"
        self.test_results = status
        self.record = {
            "status": status,
            "verified": False,
            "tier": None,
            "model_calls": self.model_calls,
            "checks": [c.to_json() | {"display": c.display} for c in self.checks],
        }
        yield VerificationFinished(
            self.run.run_id, status, False, 0, "the only candidate", "none", 1, 0, self.record
        )

    async def _search(self) -> AsyncIterator[Event]:
        s = self.settings
        authoritative = any(c.authoritative for c in self.checks)
        async for event in self._sample(0):
            yield event
        async for event in self._check(self.kept[0]):
            yield event
        if self._done(authoritative):
            async for event in self._confirm():
                yield event
            return
        if not authoritative and not (s.agreement and self.entry):
            return  # nothing could tell the candidates apart: more samples would be guesses
        for n in range(1, s.candidates):
            async for event in self._draw(n):
                yield event
            if self._sampling_failed:
                break
            if self._done(authoritative):
                async for event in self._confirm(self.kept[-1].index):
                    yield event
                return
        if s.agreement and self.entry and self._needs_agreement(authoritative):
            async for event in self._agreement():
                yield event
        if authoritative and s.repair and s.repair_rounds and not self._passes_all():
            async for event in self._repairs():
                yield event
        if authoritative and s.retries and not self._sampling_failed and not self._passes_all():
            async for event in self._retry():
                yield event

    async def _retry(self) -> AsyncIterator[Event]:
        """No candidate or repair passes every check: draw fresh samples until one does (then confirm
        it), or until `retries` are spent; the ranking then picks among all of them as before. (When
        no inputs were asked, a retry that only ties the best failure's score does not win: the
        earliest of equals does.)"""
        for _ in range(self.settings.retries):
            n = len(self.kept)
            self._retries.add(n)
            async for event in self._draw(n):
                yield event
            if self._sampling_failed:
                return
            if self._passes_all():
                async for event in self._confirm(n):
                    yield event
                return

    async def _draw(self, n: int) -> AsyncIterator[Event]:
        """Sample n, then run it on the checks and on the agreement inputs (once there are any). A
        failed step says so and sets `_sampling_failed`, leaving the candidates as they were."""
        try:
            async for event in self._sample(n):
                yield event
        except StepFailed as err:
            self._sampling_failed = True
            yield Notice(self.run.run_id, None, f"Candidate {n + 1} failed ({err}); ranking the others.")
            return
        cand = self.kept[-1]
        async for event in self._check(cand):
            yield event
        await self._outputs(cand)

    async def _confirm(self, passer: int = 0) -> AsyncIterator[Event]:
        """Candidate `passer` passes every check; a task's few examples rarely pin its behaviour down,
        so more samples are compared with it on model-proposed inputs, and a larger group that also
        passes every check wins. Sampling stops as soon as no other behaviour can outnumber the
        leading one (ties keep the passer): one agreeing sample settles it in the common case.

        A sampled passer gets the full `confirm` samples beyond the candidates, a greedy one at most
        the candidates: on the HumanEval benchmark the first sample to pass the examples was wrong in 4
        of 5 tasks, the greedy candidate far less often (README "Verified code on HumanEval")."""
        s = self.settings
        extra = s.confirm if passer else min(s.confirm, s.candidates - 1)
        # Every confirming sample is one model call, and so is the inputs step unless it was asked
        # already: stay inside the budget.
        extra = min(extra, s.max_model_calls - self.model_calls - (0 if self._asked_inputs else 1))
        # The passer is the only candidate passing every check so far, and a tie keeps it: a rival
        # behaviour needs two samples, so fewer would spend the inputs call for nothing.
        if extra < 2 or not (s.agreement and self.entry):
            return
        async for event in self._agreement():
            yield event
        if not self.calls:
            return
        first = len(self.kept)
        for n in range(first, first + extra):
            if self._settled(remaining=first + extra - n):
                return
            async for event in self._draw(n):
                yield event
            if self._sampling_failed:
                return

    def _settled(self, remaining: int) -> bool:
        """True when `remaining` more samples could not form a group larger than the leading one's:
        the passer's, or a larger one that has already outnumbered it."""
        ranking = self._ranking()
        if not behaves(self.kept[ranking.winner].outputs):
            return True  # the leader gave no outputs to agree on: nothing to confirm
        mine = ranking.group_of(ranking.winner)
        # A group passes as many checks as each of its members; one that passes fewer can never lead.
        best = self._passed(ranking.winner)
        rivals = [len(g) for g in ranking.groups if g is not mine and self._passed(g[0]) == best]
        return len(mine) >= max(rivals, default=0) + remaining

    def _passed(self, index: int) -> int:
        run = self.kept[index].run
        return run.passed_authoritative if run else 0

    def _done(self, authoritative: bool) -> bool:
        return authoritative and self._passes_all()

    def _passes_all(self) -> bool:
        return any(c.run is not None and c.run.passed_authoritative == c.run.authoritative for c in self.kept)

    def _needs_agreement(self, authoritative: bool) -> bool:
        """Agreement ranks when there are no checks, or when several candidates share the best count."""
        loading = [c for c in self.kept if c.run is not None and not c.run.load_error]
        if len(loading) < 2:
            return False  # code that does not load has no outputs to agree on
        if not authoritative:
            return True
        scores = [c.run.passed_authoritative for c in self.kept if c.run is not None]
        best = max(scores)
        return sum(c.run.passed_authoritative == best for c in loading if c.run is not None) > 1

    # -- model calls ---------------------------------------------------------------------------------
    def _spend_call(self) -> None:
        if self.model_calls >= self.settings.max_model_calls:
            raise BudgetSpent(f"the budget of {self.settings.max_model_calls} model calls is used up")
        self.model_calls += 1

    async def _step(
        self,
        role: RoleSpec,
        values: dict[str, str],
        round_: int,
        label: str,
        overrides: dict[str, Any] | None = None,
    ) -> AsyncIterator[Event | tuple[str, str | None]]:
        """One visible step; yields its events, then ("done", text) with the step id kept on self."""
        self._spend_call()
        run = self.run
        if overrides:
            run = replace(run, options=replace(run.options, overrides={**run.options.overrides, **overrides}))
        step_id = None
        idx = self.next_idx
        self.next_idx += 1
        async for event in self.step.run(run, idx, round_, role, values, revise=False):
            yield event
            if isinstance(event, StepStarted):
                step_id = event.step_id
                if label:
                    yield Notice(run.run_id, step_id, label)
            elif isinstance(event, StepFinished):
                self._last_step = step_id
                yield ("done", event.output)

    async def _sample(self, n: int) -> AsyncIterator[Event]:
        s = self.settings
        total = s.candidates
        if n == 0:
            overrides = None
            label = f"candidate 1/{total} (greedy)" if total > 1 else ""
        else:
            seed = int(self.run.options.overrides.get("seed") or self.role.options.seed or 0) + n
            overrides = {"temperature": s.temperature, "seed": seed}
            label = f"{self._name(n)} (temperature {s.temperature:g}, seed {seed})"
        async for item in self._step(self.role, self.values, 0, label, overrides):
            if isinstance(item, tuple):
                text = item[1] or ""
                self.kept.append(
                    _Candidate(
                        len(self.kept),
                        text,
                        candidate_code(text, self.entry, prelude=self.prelude),
                        "greedy" if n == 0 else "retry" if n in self._retries else "sample",
                        self._last_step,
                    )
                )
            else:
                yield item

    def _name(self, n: int) -> str:
        """Sample n as the user sees it: "candidate 3/6", "candidate 10, another try" after the repairs,
        or "candidate 8, confirming" past the count."""
        total = self.settings.candidates
        if n in self._retries:
            return f"candidate {n + 1}, another try"
        return f"candidate {n + 1}/{total}" if n < total else f"candidate {n + 1}, confirming"

    async def _inputs_step(self) -> AsyncIterator[Event]:
        role = RoleSpec(
            name="tester",
            produces="text",
            select=self.role.select,
            options=GenerationOptions(temperature=0.2, max_tokens=256),
            system=INPUTS_SYSTEM,
            prompt=INPUTS_PROMPT,
        )
        values = {**self.values, "count": str(self.settings.inputs), "entry": str(self.entry)}
        async for item in self._step(role, values, 0, "inputs for agreement between the candidates"):
            if isinstance(item, tuple):
                self.calls = calls_from_text(item[1] or "", str(self.entry), limit=self.settings.inputs)
            else:
                yield item
        if self.settings.mutations:
            sources = [c.expression for c in self.checks if c.authoritative] + self.calls
            extra = mutated_calls(sources, str(self.entry), limit=self.settings.mutations)
            self.calls += [c for c in extra if c not in self.calls]

    # -- execution -----------------------------------------------------------------------------------
    def _spend_exec(self, seconds: float) -> None:
        self.exec_seconds += seconds

    def _exec_left(self) -> None:
        if self.run.cancel.is_set():
            raise Cancelled()  # between sandbox runs, as the step runner does between chunks
        if self.exec_seconds >= self.settings.exec_seconds:
            raise BudgetSpent(f"the budget of {self.settings.exec_seconds:g} s of execution is used up")

    async def _run(self, code: str) -> CandidateRun:
        self._exec_left()
        result = await run_checks(
            self.sandbox, code, self.checks, per_check_seconds=self.settings.per_check_seconds
        )
        self._spend_exec(result.sandbox.duration)
        return result

    async def _check(self, cand: _Candidate, *, kept: bool = True, note: str = "") -> AsyncIterator[Event]:
        if cand.run is None:
            cand.run = await self._run(cand.code)
        yield self._checked(cand, kept=kept, note=note)

    def _checked(self, cand: _Candidate, *, kept: bool = True, note: str = "") -> CandidateChecked:
        run = cand.run
        assert run is not None
        lines = tuple(r.explain() for r in run.results)
        if run.load_error:  # one reason for every check: say it once
            lines = (
                f"✗ the code does not load: {run.load_error}",
                *(f"✗ {r.check.display}" for r in run.results),
            )
        label = (
            self._name(cand.index)
            if cand.origin in ("greedy", "sample", "retry")
            else f"candidate {cand.index + 1}: {cand.origin}"
        )
        return CandidateChecked(
            self.run.run_id,
            cand.step_id,
            cand.index,
            label,
            run.passed_authoritative,
            run.authoritative,
            lines,
            round(run.sandbox.duration, 3),
            kept,
            note,
        )

    async def _agreement(self) -> AsyncIterator[Event]:
        if self._asked_inputs:  # once per verification: later candidates are run on the same inputs
            for cand in self.kept:
                await self._outputs(cand)
            return
        self._asked_inputs = True
        try:
            async for event in self._inputs_step():
                yield event
        except StepFailed as err:
            yield Notice(self.run.run_id, None, f"No inputs for agreement ({err}); ranking without them.")
            return
        if not self.calls:
            yield Notice(self.run.run_id, None, "The model proposed no usable inputs; ranking without them.")
            return
        yield Notice(
            self.run.run_id,
            None,
            f"Comparing the candidates on {len(self.calls)} inputs: " + ", ".join(self.calls),
        )
        for cand in self.kept:
            await self._outputs(cand)

    async def _outputs(self, cand: _Candidate) -> None:
        if not self.calls or cand.inputs is not None:
            return
        self._exec_left()
        got = await run_inputs(
            self.sandbox, cand.code, self.calls, per_call_seconds=self.settings.per_check_seconds
        )
        self._spend_exec(got.sandbox.duration)
        cand.inputs = got

    async def _repairs(self) -> AsyncIterator[Event]:
        s = self.settings
        bases = [self.kept[i] for i in self._ranking().order[: s.repair_width]]
        for round_ in range(1, s.repair_rounds + 1):
            self.rounds = round_
            next_bases = []
            for base in bases:
                assert base.run is not None
                self._repaired = None
                async for event in self._repair(base, round_):
                    yield event
                next_bases.append(self._repaired or base)
                if self._passes_all():
                    return
            bases = next_bases

    async def _repair(self, base: _Candidate, round_: int) -> AsyncIterator[Event]:
        assert base.run is not None
        values = {
            **self.values,
            "code": f"```python\n{base.code.strip()}\n```",
            "failures": failure_report(base.run),
        }
        role = self.role.model_copy(update={"prompt": REPAIR_PROMPT, "revise_prompt": None})
        label = f"repair of candidate {base.index + 1}, round {round_}"
        overrides = None
        if round_ > 1:  # the same prompt at a low temperature gives back the rejected repair again
            seed = int(self.run.options.overrides.get("seed") or self.role.options.seed or 0) + 100 * round_
            overrides = {"temperature": self.settings.temperature, "seed": seed + base.index}
            label += f" (temperature {self.settings.temperature:g})"
        text = ""
        async for item in self._step(role, values, round_, label, overrides):
            if isinstance(item, tuple):
                text = item[1] or ""
            else:
                yield item
        origin = f"repair of {base.index + 1} (round {round_})"
        code = candidate_code(text, self.entry, prelude=self.prelude)
        cand = _Candidate(len(self.kept), text, code, origin, self._last_step)
        cand.run = await self._run(cand.code)
        if repair_keeps_passes(base.run, cand.run):
            self.kept.append(cand)
            self._repaired = cand
            await self._outputs(cand)
            yield self._checked(cand)
            return
        broke = any(
            o.check.authoritative and o.passed and not n.passed
            for o, n in zip(base.run.results, cand.run.results, strict=True)
        )
        why = "it breaks a check that passed before" if broke else "it passes no more checks than before"
        self.rejected.append(
            {
                "repair_of": base.index,
                "round": round_,
                "code_hash": code_hash(cand.code),
                "passed": cand.run.passed_authoritative,
                "why": why,
                "step_id": cand.step_id,
            }
        )
        yield self._checked(cand, kept=False, note=why)

    # -- the verdict ---------------------------------------------------------------------------------
    def _ranking(self) -> Ranking:
        return rank_candidates(
            [
                Candidate(
                    index=c.index,
                    passed=c.run.passed_authoritative if c.run else 0,
                    total=c.run.authoritative if c.run else 0,
                    outputs=c.outputs,
                )
                for c in self.kept
            ]
        )

    def _pick(self) -> Pick:
        reports = tuple(
            CandidateReport(c.index, c.code, c.run, c.inputs) for c in self.kept if c.run is not None
        )
        tier = reports[0].run.sandbox.tier
        return Pick(reports, self._ranking(), tuple(self.checks), (), tier)

    async def _finish(self) -> AsyncIterator[Event]:
        pick = self._pick()
        winner = self.kept[pick.ranking.winner]
        self.output = winner.text
        self.winner_step = winner.step_id
        status = pick.status()
        if not pick.verified and self.stopped:
            status += f" ({self.stopped})"
        reason = _reason(pick.ranking, winner)
        assert winner.run is not None
        self.test_results = "\n".join([status, *(r.explain() for r in winner.run.results)])
        record = pick.to_record() | {
            "status": status,
            "entry_point": self.entry,
            "calls": list(self.calls),
            "rounds": self.rounds,
            "model_calls": self.model_calls,
            "exec_seconds": round(self.exec_seconds, 3),
            "stopped": self.stopped or None,
            "settings": self.settings.model_dump(),
            "reason": reason,
            "rejected_repairs": self.rejected,
            "winner_step": winner.step_id,
        }
        for row, cand in zip(record["candidates"], self.kept, strict=True):
            row |= {"origin": cand.origin, "step_id": cand.step_id}
        self.record = record
        yield VerificationFinished(
            self.run.run_id,
            status,
            pick.verified,
            winner.index,
            reason,
            pick.tier.value,
            len(self.kept),
            self.rounds,
            record,
        )
