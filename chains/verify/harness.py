"""Run one candidate against checks, or on model-proposed inputs, in one sandbox run.

    run = await run_checks(sandbox, code, checks)
    run.passed_all, [r.passed for r in run.results], run.results[0].actual
    outputs = await run_inputs(sandbox, code, ["f(1)", "f([])"])   # for agreement

The candidate is written as `solution.py`; a script made from harness_child.py loads it, runs each
check under its own alarm, and prints its results as JSON between random markers (so that the
candidate's own prints cannot be taken for them).
"""

from __future__ import annotations

import functools
import json
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from .checks import Check
from .limits import Limits
from .sandbox import PASSED, Sandbox, SandboxResult, cut_report

LOAD_SECONDS = 5.0


@dataclass(frozen=True)
class CheckResult:
    """How one check went: `actual` is the repr of what the candidate returned (for a comparison,
    the left side), `error` a sentence when it raised or timed out, `traceback` its last lines."""

    check: Check
    passed: bool
    actual: str | None = None
    error: str = ""
    traceback: str = ""
    seconds: float = 0.0

    def explain(self) -> str:
        """One line: ✓ or ✗, the check, and what went wrong."""
        if self.passed:
            return f"✓ {self.check.display}"
        got = f"got {self.actual}" if self.actual is not None else ""
        why = f"{self.error} ({got})" if self.error and got else (self.error or got or "failed")
        return f"✗ {self.check.display}: {why}"


@dataclass(frozen=True)
class CandidateRun:
    """A candidate's results on all its checks, with the sandbox run that produced them."""

    results: tuple[CheckResult, ...]
    sandbox: SandboxResult
    load_error: str = ""
    note: str = ""  # why the harness gave no results, when it did not

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def passed_authoritative(self) -> int:
        return sum(r.passed for r in self.results if r.check.authoritative)

    @property
    def authoritative(self) -> int:
        return sum(r.check.authoritative for r in self.results)

    @property
    def passed_all(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed]


@dataclass(frozen=True)
class InputsRun:
    """A candidate's outputs (canonical reprs, or "raises X" / "timeout") on the proposed calls."""

    outputs: tuple[str, ...]
    sandbox: SandboxResult
    load_error: str = ""
    calls: tuple[str, ...] = field(default=())


@functools.cache
def _child_source() -> str:
    # Read on first use, not at import, and then once per process: every candidate run embeds it.
    return Path(__file__).with_name("harness_child.py").read_text(encoding="utf-8")


def _script(job: dict, marker: str) -> str:
    return f"{_child_source()}\n\nmain({json.dumps(json.dumps(job))}, {marker!r})\n"


def _limits_for(base: Limits, count: int, per_check: float, load_seconds: float) -> Limits:
    # Enough wall and CPU time for the load and every check at its own limit, and room for the output.
    wall = load_seconds + per_check * max(count, 1) + 2.0
    return replace(
        base,
        wall_seconds=wall,
        cpu_seconds=max(base.cpu_seconds, math.ceil(wall)),
        output_bytes=max(base.output_bytes, 4096),
    )


async def _run(
    sandbox: Sandbox, code: str, job: dict, count: int, per_check: float, limits: Limits | None
) -> tuple[dict | None, SandboxResult]:
    marker = "@@harness-" + secrets.token_hex(8) + "@@"
    run_limits = _limits_for(limits or sandbox.limits, count, per_check, float(job["load_seconds"]))
    result = await sandbox.run(_script(job, marker), limits=run_limits, files={"solution.py": code})
    stdout, report = cut_report(result.full_stdout, marker)
    return report, replace(result, stdout=stdout[-run_limits.output_bytes :], full_stdout=stdout)


def _why_no_report(result: SandboxResult) -> str:
    if result.reason == PASSED:
        return "the candidate ended the harness before it could report"
    return f"the run {result.summary()}"


async def run_checks(
    sandbox: Sandbox,
    code: str,
    checks: Sequence[Check],
    *,
    per_check_seconds: float = 5.0,
    limits: Limits | None = None,
    load_seconds: float = LOAD_SECONDS,
) -> CandidateRun:
    """Run `code` against `checks` in one sandbox run; every check gets a result, even if the run died.
    Loading the code (its top level) may take `load_seconds`, each check `per_check_seconds`."""
    job = {
        "mode": "checks",
        "checks": [c.to_json() for c in checks],
        "check_seconds": per_check_seconds,
        "load_seconds": load_seconds,
    }
    report, result = await _run(sandbox, code, job, len(checks), per_check_seconds, limits)
    got = {int(r["index"]): r for r in (report or {}).get("results", [])}
    note = "" if report is not None else _why_no_report(result)
    results = []
    for index, check in enumerate(checks):
        r = got.get(index)
        if r is None:
            results.append(CheckResult(check, False, error=note or "not run: the harness stopped first"))
            continue
        results.append(
            CheckResult(
                check,
                bool(r["passed"]),
                actual=r.get("actual"),
                error=str(r.get("error", "")),
                traceback=str(r.get("traceback", "")),
                seconds=float(r.get("seconds", 0.0)),
            )
        )
    load_error = str((report or {}).get("load_error", ""))
    return CandidateRun(tuple(results), result, load_error=load_error, note=note)


async def run_inputs(
    sandbox: Sandbox,
    code: str,
    calls: Sequence[str],
    *,
    per_call_seconds: float = 2.0,
    limits: Limits | None = None,
    load_seconds: float = LOAD_SECONDS,
) -> InputsRun:
    """The candidate's outputs on each call expression (for agreement between candidates)."""
    job = {
        "mode": "calls",
        "calls": list(calls),
        "check_seconds": per_call_seconds,
        "load_seconds": load_seconds,
    }
    report, result = await _run(sandbox, code, job, len(calls), per_call_seconds, limits)
    outputs = list((report or {}).get("outputs", []))
    missing = "no output: " + _why_no_report(result) if report is None else "not run"
    outputs += [missing] * (len(calls) - len(outputs))
    return InputsRun(
        tuple(str(o) for o in outputs), result, str((report or {}).get("load_error", "")), tuple(calls)
    )
