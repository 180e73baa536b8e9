"""Small statistics helpers for the benchmark scripts."""

from __future__ import annotations

import statistics


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary_ms(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"p50 {statistics.median(ms):.2f} ms, p95 {pct(ms, 0.95):.2f} ms (n={len(ms)})"
