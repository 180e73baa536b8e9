"""Project mode of the verified session: the project's own test command judges each candidate's edits.

    if run.options.project_tests:  # files attached and --test-cmd given
        async for event in ProjectMode(session).events(): ...

The executor is asked for edits to the attached files (chains.context.in_step adds the edit format);
each candidate's answer is reviewed against the files (chains.edits.review) and, when it has edits
that can be applied, the command runs on a sandboxed copy of the project with them applied
(chains.edits.project_tests). That run is the one authoritative check: the greedy candidate first,
more samples when it fails, then repair rounds that show the executor the test output's tail. The
winner's answer is the run's answer, so `jarvis apply RUN` writes the winner's edits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from ..context.attachment import INCLUDED
from ..edits.project_tests import CommandNotRunnable, ProjectTestResult, resolve_command, run_project_tests
from ..edits.review import EditReview, review_answer
from ..events import Event, Notice
from ..run_options import StepFailed
from .events import CandidateChecked, ChecksFound, VerificationFinished
from .sandbox import SandboxUnavailable
from .verified_step import BudgetSpent, VerifiedSession

#: REPAIR_PROMPT's shape, for edits: the task (with the files and the edit format), the candidate's
#: answer, what the tests said.
PROJECT_REPAIR_PROMPT = (
    "Task: {task}\n\nYour answer:\n{code}\n\nYour edits were applied to a copy of the project and its "
    "tests were run; they failed:\n{failures}\n\nFix the edits so that the tests pass. Answer with the "
    "complete corrected edits to the original files, in the format asked for above."
)
_TAIL_LINES = 30  # of the test output, shown under a failed candidate and given to a repair


@dataclass
class _Candidate:
    index: int
    text: str
    origin: str  # "greedy", "sample", "repair of 2 (round 1)"
    step_id: str | None
    review: EditReview | None = None
    tests: ProjectTestResult | None = None
    #: Why it was not tested or did not pass, in one sentence (no usable edits, a failed command).
    reason: str = ""

    @property
    def passed(self) -> bool:
        return self.tests is not None and self.tests.passed


def _tail(text: str, lines: int = _TAIL_LINES) -> list[str]:
    return text.rstrip().splitlines()[-lines:]


class ProjectMode:
    """Runs a VerifiedSession's search with the project's tests as its one check; fills the session's
    output, test_results, record and winner_step as the function-level search does."""

    def __init__(self, session: VerifiedSession) -> None:
        self.s = session
        options = session.run.options
        assert options.context is not None and options.project_tests is not None
        self.context = options.context
        self.command = options.project_tests
        self.display = f"project tests: {self.command}"
        self.kept: list[_Candidate] = []
        self.tier = "none"
        self.stopped = ""

    # -- the flow ------------------------------------------------------------------------------------
    async def events(self) -> AsyncIterator[Event]:
        s, run_id = self.s, self.s.run.run_id
        options = s.run.options
        try:  # a command that cannot start is said before any model is asked
            await asyncio.to_thread(resolve_command, self.command, self.context.root)
        except CommandNotRunnable as err:
            raise StepFailed(f"Cannot verify: {err}", "usage") from None
        if options.tests or options.examples:
            yield Notice(
                run_id, None, "--tests and --example are not used: your project's tests decide (--test-cmd)."
            )
        try:
            choice = await s.sandbox.tier()
        except SandboxUnavailable as err:
            yield Notice(run_id, None, f"Cannot verify: {err}; the project's tests were not run.")
            self.stopped = f"no sandbox can run the tests here ({err})"
            async for event in self._sample(0):
                yield event
            async for event in self._finish():
                yield event
            return
        self.tier = choice.tier.value
        if options.confinement_notice:
            from .tiers import confinement_notice

            runs = f"your test command on a copy of the project, {s.settings.exec_seconds:g} s in all"
            yield Notice(run_id, None, confinement_notice(choice, runs))
        if choice.warning:
            yield Notice(run_id, None, f"Warning: {choice.warning}.")
        limits = f"{s.settings.exec_seconds:g} s of test runs in all, on a copy of {self.context.root}"
        yield ChecksFound(run_id, ({"source": "project", "display": self.display},), None, self.tier, limits)
        try:
            async for event in self._search():
                yield event
        except BudgetSpent as err:
            self.stopped = str(err)
            yield Notice(run_id, None, f"Verification stopped: {err}.")
        except (CommandNotRunnable, SandboxUnavailable) as err:
            self.stopped = str(err).rstrip(".")
            yield Notice(run_id, None, f"Verification stopped: {self.stopped}.")
        if not self.kept:
            return  # the greedy step itself failed: StepFailed has already ended the run
        async for event in self._finish():
            yield event

    async def _search(self) -> AsyncIterator[Event]:
        settings = self.s.settings
        async for event in self._sample(0):
            yield event
        async for event in self._check(self.kept[0]):
            yield event
        if self._passed():
            return
        for n in range(1, settings.candidates):
            try:
                async for event in self._sample(n):
                    yield event
            except StepFailed as err:
                yield Notice(
                    self.s.run.run_id, None, f"Candidate {n + 1} failed ({err}); going on without it."
                )
                break
            async for event in self._check(self.kept[-1]):
                yield event
            if self._passed():
                return
        if settings.repair and settings.repair_rounds:
            async for event in self._repairs():
                yield event

    def _passed(self) -> bool:
        return any(c.passed for c in self.kept)

    # -- candidates ----------------------------------------------------------------------------------
    async def _sample(self, n: int) -> AsyncIterator[Event]:
        """The session's n-th candidate step (greedy or sampled), kept here with its answer."""
        s = self.s
        before = len(s.kept)
        async for event in s._sample(n):
            yield event
        for cand in s.kept[before:]:
            s.kept.remove(cand)  # the function-level list stays empty: nothing of it is run here
            self.kept.append(_Candidate(len(self.kept), cand.text, cand.origin, cand.step_id))

    async def _review(self, cand: _Candidate) -> None:
        fitted = self.s.run.context_state.fits.get(self.s.role.name)
        attachments = fitted.attachments if fitted is not None else self.context.attachments
        attached = {a.rel_path: a.sha256 for a in attachments}
        # A file the prompt held only in part must not be replaced whole (as `jarvis apply` judges it).
        partial = {a.rel_path for a in attachments if a.status != INCLUDED}
        cand.review = await asyncio.to_thread(
            review_answer, cand.text, self.context.root, attached, partial=partial
        )

    async def _check(self, cand: _Candidate) -> AsyncIterator[Event]:
        s = self.s
        await self._review(cand)
        review = cand.review
        assert review is not None
        if not review.changes:
            # The refused edits' reasons are listed under the candidate (and given to a repair).
            cand.reason = (
                "none of its edits can be applied"
                if review.refused
                else "it has no edits to the attached files"
            )
        else:
            try:
                s._exec_left()
            except BudgetSpent as err:
                cand.reason = f"not tested: {err}"
                yield self._checked(cand)
                raise
            left = max(s.settings.exec_seconds - s.exec_seconds, 1.0)
            # The session's sandbox's probe: the tiers are probed once per run, not per candidate.
            probe, tiers = s.sandbox._probe, s.sandbox.tiers
            cand.tests = await run_project_tests(
                review.root, review.changes, self.command, timeout_s=left, probe=probe, tiers=tiers
            )
            s._spend_exec(cand.tests.seconds)
            if not cand.tests.passed:
                cand.reason = cand.tests.summary()
        yield self._checked(cand)

    def _checked(self, cand: _Candidate) -> CandidateChecked:
        lines: list[str] = []
        if cand.tests is None:
            lines.append(f"✗ {self.display}: not run: {cand.reason}")
        else:
            t = cand.tests
            mark = "✓" if t.passed else "✗"
            how = (
                "passed"
                if t.passed
                else ("timed out" if t.timed_out else f"failed (exit status {t.exit_code})")
            )
            lines.append(f"{mark} {self.display}: {how} in {t.seconds:.1f} s [sandbox {t.tier}]")
            if not t.passed:
                lines += [f"    {line}" for line in _tail(t.output_tail, 12)]
        if cand.review is not None:
            lines += [o.line() for o in cand.review.outcomes if not o.ok]
        total = self.s.settings.candidates
        label = (
            f"candidate {cand.index + 1}/{total}"
            if cand.origin in ("greedy", "sample")
            else f"candidate {cand.index + 1}: {cand.origin}"
        )
        seconds = round(cand.tests.seconds, 3) if cand.tests else 0.0
        return CandidateChecked(
            self.s.run.run_id, cand.step_id, cand.index, label, int(cand.passed), 1, tuple(lines), seconds
        )

    # -- repairs -------------------------------------------------------------------------------------
    async def _repairs(self) -> AsyncIterator[Event]:
        s = self.s
        # Candidates whose edits ran come first (the tests' output says what to fix), then the rest.
        bases = sorted(self.kept, key=lambda c: (c.tests is None, c.index))[: s.settings.repair_width]
        for round_ in range(1, s.settings.repair_rounds + 1):
            s.rounds = round_
            next_bases: list[_Candidate] = []
            for base in bases:
                repaired: _Candidate | None = None
                async for item in self._repair(base, round_):
                    if isinstance(item, _Candidate):
                        repaired = item
                    else:
                        yield item
                if self._passed():
                    return
                # A repair whose edits could not even be used is a worse base than what it repaired.
                usable = repaired is not None and repaired.review is not None and repaired.review.changes
                next_bases.append(repaired if usable and repaired is not None else base)
            bases = next_bases

    async def _repair(self, base: _Candidate, round_: int) -> AsyncIterator[Event | _Candidate]:
        s = self.s
        if base.tests is not None:
            failures = f"`{self.command}` {base.reason}:\n" + "\n".join(_tail(base.tests.output_tail))
        else:
            refused = [o.line() for o in base.review.refused] if base.review else []
            failures = "\n".join([f"The tests did not run: {base.reason}.", *refused])
        values = {**s.values, "code": base.text.strip(), "failures": failures}
        role = s.role.model_copy(update={"prompt": PROJECT_REPAIR_PROMPT, "revise_prompt": None})
        text = ""
        async for item in s._step(
            role, values, round_, f"repair of candidate {base.index + 1}, round {round_}"
        ):
            if isinstance(item, tuple):
                text = item[1] or ""
            else:
                yield item
        cand = _Candidate(len(self.kept), text, f"repair of {base.index + 1} (round {round_})", s._last_step)
        self.kept.append(cand)
        async for event in self._check(cand):
            yield event
        yield cand

    # -- the verdict ---------------------------------------------------------------------------------
    def _winner(self) -> tuple[_Candidate, str]:
        passing = [c for c in self.kept if c.passed]
        if passing:
            return passing[0], "its edits pass the project's tests"
        tested = [c for c in self.kept if c.tests is not None]
        if tested:
            return tested[0], "no candidate's edits passed the project's tests; the first whose edits ran"
        if self.stopped:
            return self.kept[0], "the tests were not run"
        return self.kept[0], "no candidate had edits that could be applied"

    async def _finish(self) -> AsyncIterator[Event]:
        s = self.s
        winner, grounds = self._winner()
        verified = winner.passed
        if verified:
            status = f"verified: project tests passed (`{self.command}`)"
        else:
            status = f"unverified: no candidate's edits passed the project tests (`{self.command}`)"
            if self.stopped:
                status += f" ({self.stopped})"
        who = (
            "the greedy candidate"
            if winner.origin == "greedy"
            else f"candidate {winner.index + 1}, a {winner.origin}"
        )
        reason = f"{grounds}; {who}"
        s.output = winner.text
        s.winner_step = winner.step_id
        s.test_results = "\n".join([status, *(self._checked(winner).lines)])
        record: dict[str, Any] = {
            "mode": "project",
            "status": status,
            "verified": verified,
            "tier": self.tier,
            "command": self.command,
            "checks": [{"source": "project", "display": self.display}],  # the command is the one check
            "candidates": [self._row(c) for c in self.kept],
            "winner": winner.index,
            "winner_step": winner.step_id,
            "reason": reason,
            "rounds": s.rounds,
            "model_calls": s.model_calls,
            "exec_seconds": round(s.exec_seconds, 3),
            "stopped": self.stopped or None,
            "settings": s.settings.model_dump(),
        }
        s.record = record
        yield VerificationFinished(
            s.run.run_id, status, verified, winner.index, reason, self.tier, len(self.kept), s.rounds, record
        )

    @staticmethod
    def _row(cand: _Candidate) -> dict[str, Any]:
        review = cand.review
        why = None if cand.passed else (cand.reason or "not tested")
        return {
            # The one check's result, in the shape function-level rows have (exports read it).
            "results": [{"passed": cand.passed, "error": why, "actual": None}],
            "index": cand.index,
            "origin": cand.origin,
            "step_id": cand.step_id,
            "passed": cand.passed,
            "files": [c.path for c in review.changes] if review else [],
            "refused": [o.as_json() for o in review.refused] if review else [],
            "tests": cand.tests.as_json() if cand.tests else None,
            "reason": cand.reason or None,
        }
