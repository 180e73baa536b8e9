"""Pick the candidate that really works: run each against the checks and on the proposed inputs,
vote on the model-written checks, rank, and say in one line whether the winner is verified.

    pick = await pick_candidate(sandbox, [greedy, sample1, sample2], checks, calls=["f(0)", "f(9)"])
    pick.winner.code, pick.status(), pick.ranking.reason, [r.explain() for r in pick.winner.run.results]

This is the headless core of the `verified` chain; sampling and repair rounds belong to the chain.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .checks import EXTRACTED, GIVEN, MODEL, Check
from .harness import CandidateRun, InputsRun, run_checks, run_inputs
from .rank import Candidate, Ranking, rank_candidates, vote_model_checks
from .sandbox import Sandbox
from .tiers import Tier


def code_hash(code: str) -> str:
    """A short stable id for a candidate's code (what the ledger stores beside the results)."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class CandidateReport:
    index: int  # sampling order: 0 is the greedy sample
    code: str
    run: CandidateRun  # every check, model-written ones included
    inputs: InputsRun | None = None

    @property
    def code_hash(self) -> str:
        return code_hash(self.code)


@dataclass(frozen=True)
class Pick:
    candidates: tuple[CandidateReport, ...]
    ranking: Ranking
    checks: tuple[Check, ...]
    kept_model_checks: tuple[Check, ...]  # the model-written checks that survived the vote
    tier: Tier

    @property
    def winner(self) -> CandidateReport:
        return next(c for c in self.candidates if c.index == self.ranking.winner)

    @property
    def authoritative(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.authoritative)

    @property
    def verified(self) -> bool:
        """The winner passes every authoritative check, and there is at least one."""
        run = self.winner.run
        return bool(self.authoritative) and run.passed_authoritative == run.authoritative

    def to_record(self) -> dict[str, Any]:
        """What the ledger keeps: the checks with their source, each candidate's code hash, per-check
        results and durations, the tier and limits, the ranking. Never the environment or output."""
        sandbox = self.winner.run.sandbox
        return {
            "status": self.status(),
            "verified": self.verified,
            "tier": self.tier.value,
            "limits": asdict(sandbox.limits),
            "limits_applied": list(sandbox.limits_applied),
            "checks": [c.to_json() | {"display": c.display} for c in self.checks],
            "kept_model_checks": [self.checks.index(c) for c in self.kept_model_checks],
            "winner": self.ranking.winner,
            "reason": self.ranking.reason,
            "order": list(self.ranking.order),
            "groups": [list(g) for g in self.ranking.groups],
            "candidates": [
                {
                    "index": c.index,
                    "code_hash": c.code_hash,
                    "seconds": round(c.run.sandbox.duration, 4),
                    "ended": c.run.sandbox.reason,
                    "load_error": c.run.load_error,
                    "results": [
                        {"passed": r.passed, "actual": r.actual, "error": r.error, "seconds": r.seconds}
                        for r in c.run.results
                    ],
                    "outputs": list(c.inputs.outputs) if c.inputs else [],
                }
                for c in self.candidates
            ],
        }

    def status(self) -> str:
        """ "verified: N given + M extracted checks passed", or "unverified" and why."""
        given = sum(c.source == GIVEN for c in self.authoritative)
        extracted = sum(c.source == EXTRACTED for c in self.authoritative)
        if self.verified:
            return f"verified: {given} given + {extracted} extracted checks passed"
        if not self.authoritative:
            return "unverified: the task has no examples or tests to check against"
        run = self.winner.run
        failed = run.authoritative - run.passed_authoritative
        return f"unverified: the best candidate fails {failed} of {run.authoritative} checks"


async def pick_candidate(
    sandbox: Sandbox,
    codes: Sequence[str],
    checks: Sequence[Check],
    calls: Sequence[str] = (),
    *,
    per_check_seconds: float = 5.0,
    concurrency: int = 2,
) -> Pick:
    """Run every candidate (at most `concurrency` sandboxes at once) and rank them.

    `calls` are model-proposed inputs for agreement (may be empty). Raises ValueError when there
    is no candidate.
    """
    if not codes:
        raise ValueError("there are no candidates to verify")
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(index: int, code: str) -> CandidateReport:
        async with gate:
            run = await run_checks(sandbox, code, checks, per_check_seconds=per_check_seconds)
            inputs = None
            if calls:
                inputs = await run_inputs(sandbox, code, calls, per_call_seconds=per_check_seconds)
        return CandidateReport(index, code, run, inputs)

    reports = await asyncio.gather(*(one(i, code) for i, code in enumerate(codes)))
    model_at = [k for k, c in enumerate(checks) if c.source == MODEL]
    votes = vote_model_checks([[r.run.results[k].passed for k in model_at] for r in reports])
    kept = [k for k, keep in zip(model_at, votes, strict=True) if keep]
    ranking = rank_candidates(
        [
            Candidate(
                index=r.index,
                passed=r.run.passed_authoritative,
                total=r.run.authoritative,
                outputs=r.inputs.outputs if r.inputs else (),
                model_passed=sum(r.run.results[k].passed for k in kept),
            )
            for r in reports
        ]
    )
    tier = reports[0].run.sandbox.tier
    return Pick(tuple(reports), ranking, tuple(checks), tuple(checks[k] for k in kept), tier)
