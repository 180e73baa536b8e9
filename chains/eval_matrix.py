"""What `jarvis eval` measures: one result per task × model × chain, and the matrix they add up to."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

#: z for a two-sided 95 % interval.
Z95 = 1.959964


def wilson(passed: int, total: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for a pass rate: sane at 0/n and n/n, unlike the normal one."""
    if total <= 0:
        return 0.0, 1.0
    p = passed / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    # At 0/n and n/n the bound is exactly 0 or 1, not a rounding error away from it.
    low = 0.0 if passed == 0 else max(0.0, centre - half)
    high = 1.0 if passed == total else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class TaskResult:
    """One task run by one model in one chain, then graded by the suite's own checks in the sandbox.

    `reason` is a sentence (why it failed, or how many checks passed); `tokens` counts prompt and
    completion tokens over every step of the run; `seconds` is the whole task (model and checks),
    `check_seconds` the sandbox part; `tier` is how the code was confined (None: it never ran).
    """

    task_id: str
    model: str
    chain: str
    passed: bool
    reason: str
    tokens: int
    seconds: float
    check_seconds: float
    tier: str | None
    run_id: str | None
    task_type: str | None = None
    checks_passed: int = 0
    checks_total: int = 0

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Cell:
    """One model × chain of the matrix."""

    model: str
    chain: str
    tasks: int
    passed: int
    ci_low: float
    ci_high: float
    tokens_per_task: float | None
    tokens_per_solved: float | None
    median_s: float | None

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.tasks if self.tasks else None

    def as_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "chain": self.chain,
            "tasks": self.tasks,
            "passed": self.passed,
            "pass_rate": self.pass_rate,
            "ci95": [self.ci_low, self.ci_high],
            "tokens_per_task": self.tokens_per_task,
            "tokens_per_solved": self.tokens_per_solved,
            "median_s": self.median_s,
        }

    def row(self) -> tuple[str, ...]:
        """The cells of this line in the human table."""
        rate = (
            "-"
            if self.pass_rate is None
            else (f"{self.passed}/{self.tasks} {self.pass_rate:.0%} [{self.ci_low:.0%}-{self.ci_high:.0%}]")
        )
        return (
            self.model,
            self.chain,
            rate,
            _num(self.tokens_per_task),
            _num(self.tokens_per_solved),
            "-" if self.median_s is None else f"{self.median_s:.1f}",
        )


MATRIX_HEADER = ("model", "chain", "pass rate [95% CI]", "tokens/task", "tokens/solved", "median s")


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def matrix(results: Sequence[TaskResult]) -> list[Cell]:
    """One cell per model × chain, in the order they first ran."""
    groups: dict[tuple[str, str], list[TaskResult]] = {}
    for r in results:
        groups.setdefault((r.model, r.chain), []).append(r)
    cells = []
    for (model, chain), rows in groups.items():
        passed = sum(r.passed for r in rows)
        tokens = sum(r.tokens for r in rows)
        low, high = wilson(passed, len(rows))
        cells.append(
            Cell(
                model,
                chain,
                len(rows),
                passed,
                low,
                high,
                tokens_per_task=tokens / len(rows) if rows else None,
                # Tokens spent on the whole suite per task solved: what a pass costs.
                tokens_per_solved=tokens / passed if passed else None,
                median_s=statistics.median(r.seconds for r in rows) if rows else None,
            )
        )
    return cells
