"""What a repair round tells the model, and whether a repair may replace the code it repaired.

text = failure_report(run)             # the failing checks with actual values and traceback tails
keep = repair_keeps_passes(before, after)  # a repair may not break a check that passed before
"""

from __future__ import annotations

from .checks import COMPARE
from .diagnose import mismatch_hint
from .harness import CandidateRun

_TRACEBACK_LINES = 6


def failure_report(run: CandidateRun, *, limit: int = 3, authoritative_only: bool = True) -> str:
    """The first `limit` failing checks, one block each: the check, what came back, the traceback's
    last lines. Empty when nothing failed. Model-written checks are left out unless asked for:
    repairs aim at the checks that carry the user's intent."""
    failures = [r for r in run.failures() if r.check.authoritative or not authoritative_only]
    if not failures:
        return ""
    if run.load_error:
        tail = "\n".join(run.results[0].traceback.splitlines()[-_TRACEBACK_LINES:]) if run.results else ""
        return f"The code does not load: {run.load_error}" + (f"\n{tail}" if tail else "")
    blocks = []
    for result in failures[:limit]:
        check = result.check
        lines = [f"Check failed: {check.display}"]
        if check.kind == COMPARE and check.op == "==" and check.expected is not None:
            lines.append(f"  expected value: {check.expected}")
        if result.actual is not None:
            lines.append(f"  actual value: {result.actual}")
            hint = mismatch_hint(check.expected, result.actual) if check.kind == COMPARE else ""
            if hint:
                lines.append(f"  difference: {hint}")
        if result.error:
            lines.append(f"  error: {result.error}")
        last = result.traceback.splitlines()[-_TRACEBACK_LINES:]
        if last:
            lines += ["  traceback (last lines):", *(f"    {line}" for line in last)]
        blocks.append("\n".join(lines))
    more = len(failures) - limit
    if more > 0:
        blocks.append(f"({more} more failing check{'s' if more > 1 else ''} not shown)")
    return "\n\n".join(blocks)


def repair_keeps_passes(before: CandidateRun, after: CandidateRun) -> bool:
    """A repair is kept only if every authoritative check that passed before still passes, and it
    passes more of them than before (same checks, same order)."""
    if [r.check for r in before.results] != [r.check for r in after.results]:
        raise ValueError("a repair must be judged on the same checks as the code it repairs")
    for old, new in zip(before.results, after.results, strict=True):
        if old.check.authoritative and old.passed and not new.passed:
            return False
    return after.passed_authoritative > before.passed_authoritative
