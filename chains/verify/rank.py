"""CodeT-style ranking of candidates: authoritative passes first, then agreement, then greedy first.

Candidates that give the same outputs on the model-proposed inputs form a group; a larger group is
more likely right (independent samples rarely agree on the same wrong answers). The key, best
first: most authoritative checks passed, largest agreement group, most model-written checks
passed (after voting), earliest sample (the greedy one is sample 0). Pure functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

# Outputs that say nothing about behaviour: candidates that only ever produce these agree on nothing.
_NO_BEHAVIOUR = ("did not load", "not run", "timeout", "no output")
# Outputs that say the candidate failed on the input rather than answered it.
_FAILED = ("raises ", *_NO_BEHAVIOUR)


@dataclass(frozen=True)
class Candidate:
    """What ranking needs to know about one sampled candidate."""

    index: int  # sampling order: 0 is the greedy sample
    passed: int = 0  # authoritative (given + extracted) checks passed
    total: int = 0  # authoritative checks run
    outputs: tuple[str, ...] = ()  # canonical outputs on the model-proposed inputs, same order for all
    model_passed: int = 0  # model-written checks passed (only those kept by voting)


@dataclass(frozen=True)
class Ranking:
    """Candidates best first, the agreement groups (largest first) and why the winner won: its
    `grounds` (checks passed, agreement) and whether it only won the tie by coming first."""

    order: tuple[int, ...]
    groups: tuple[tuple[int, ...], ...]
    winner: int
    grounds: tuple[str, ...] = ()
    tie: bool = False

    @property
    def reason(self) -> str:
        """The grounds, then the winner by its sample number ("the greedy sample" for sample 0)."""
        who = "the greedy sample" if self.winner == 0 else f"sample {self.winner}"
        return "; ".join([*self.grounds, who + (", first among equals" if self.tie else "")])

    def group_of(self, index: int) -> tuple[int, ...]:
        return next(g for g in self.groups if index in g)


def behaves(outputs: tuple[str, ...]) -> bool:
    return bool(outputs) and not all(o.startswith(_NO_BEHAVIOUR) for o in outputs)


def agreement_groups(candidates: Sequence[Candidate]) -> list[tuple[int, ...]]:
    """Candidates with identical outputs that pass as many checks, grouped (two that differ on the
    checks do not behave the same, however alike their outputs on the proposed inputs); a candidate
    with no usable outputs stands alone. Largest group first, then by its earliest member."""
    by_outputs: dict[tuple[int, tuple[str, ...]], list[int]] = {}
    alone = []
    for c in candidates:
        if behaves(c.outputs):
            by_outputs.setdefault((c.passed, c.outputs), []).append(c.index)
        else:
            alone.append((c.index,))
    groups = [tuple(sorted(g)) for g in by_outputs.values()] + alone
    return sorted(groups, key=lambda g: (-len(g), g[0]))


def informative_inputs(candidates: Sequence[Candidate]) -> tuple[int, ...]:
    """The positions of the proposed inputs agreement should compare on: all but those that most of
    the candidates passing the most checks fail on (raise or time out).

    Such an input most likely breaks the task's contract (mutated examples give empty lists, zero,
    negative numbers): *how* candidates fail on it says nothing about the behaviour the task asks
    for. Measured on 350 stored HumanEval verifications, comparing on every input picked a wrong
    winner in 2 (a right greedy candidate outvoted by two samples that raised TypeError on negative
    numbers where it returned []); leaving such inputs out changed no other winner.
    """
    width = max((len(c.outputs) for c in candidates), default=0)
    best = max((c.passed for c in candidates), default=0)
    top = [c.outputs for c in candidates if c.passed == best and len(c.outputs) == width]
    return tuple(
        k for k in range(width) if not top or 2 * sum(row[k].startswith(_FAILED) for row in top) <= len(top)
    )


def _on(inputs: tuple[int, ...], candidate: Candidate) -> Candidate:
    if not candidate.outputs or len(inputs) == len(candidate.outputs):
        return candidate
    kept = tuple(candidate.outputs[k] for k in inputs if k < len(candidate.outputs))
    return replace(candidate, outputs=kept)


def rank_candidates(candidates: Sequence[Candidate]) -> Ranking:
    """Rank candidates; raises ValueError on an empty list (there is nothing to pick)."""
    if not candidates:
        raise ValueError("there are no candidates to rank")
    inputs = informative_inputs(candidates)
    candidates = [_on(inputs, c) for c in candidates]
    groups = agreement_groups(candidates)
    size = {i: len(g) for g in groups for i in g}
    ordered = sorted(candidates, key=lambda c: (-c.passed, -size[c.index], -c.model_passed, c.index))
    best = ordered[0]
    runner_up = ordered[1] if len(ordered) > 1 else None
    tie = runner_up is not None and (runner_up.passed, size[runner_up.index], runner_up.model_passed) == (
        best.passed,
        size[best.index],
        best.model_passed,
    )
    return Ranking(
        order=tuple(c.index for c in ordered),
        groups=tuple(groups),
        winner=best.index,
        grounds=_grounds(best, size, len(candidates)),
        tie=tie,
    )


def _grounds(best: Candidate, size: dict[int, int], count: int) -> tuple[str, ...]:
    parts = []
    if best.total:
        parts.append(f"passed {best.passed}/{best.total} checks")
    if best.outputs and size[best.index] > 1:
        parts.append(f"{size[best.index]} of {count} candidates agree with it on {len(best.outputs)} inputs")
    elif best.outputs:
        parts.append(f"no other candidate agrees with it on {len(best.outputs)} inputs")
    if best.model_passed:
        parts.append(f"passed {best.model_passed} model-written checks")
    return tuple(parts)


def vote_model_checks(passes: Sequence[Sequence[bool]]) -> list[bool]:
    """Which model-written checks to keep: `passes[c][k]` says candidate c passed check k.

    Small models often predict expected values wrongly; a check that most candidates fail is more
    likely wrong than they are, so only a check at least half the candidates pass is kept.
    """
    if not passes:
        return []
    width = len(passes[0])
    if any(len(row) != width for row in passes):
        raise ValueError("every candidate needs a result for every model-written check")
    return [2 * sum(row[k] for row in passes) >= len(passes) for k in range(width)]
