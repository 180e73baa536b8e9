"""Inputs made by changing the task's own example calls, one argument at a time (EvalPlus-style).

    mutated_calls(["pluck([4, 2, 3])"], "pluck")  # ["pluck([])", "pluck([4])", "pluck([9, 5, 7])", …]

A model asked for test inputs tends to propose calls like the examples it was shown, so candidates
that differ only on an empty list, a list with no match or a doubled space agree on all of them.
Changing each literal argument by its type (empty, one element, reversed, odd, negative, doubled
spaces, …) reaches those corners without any expected value: the candidates' outputs are only
compared with each other. Pure functions on source text; nothing is evaluated here but literals.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from typing import Any


def _variants(value: Any) -> list[Any]:
    """Values of the same type that often behave differently (bool before int: bool is an int)."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        grown = [value + 1, value * 2 + 1] if abs(value) <= 100 else []  # big inputs may just time out
        return [0, 1, -value if value else -1, *grown]
    if isinstance(value, float):
        return [0.0, -value, value / 2]
    if isinstance(value, str):
        out = ["", value[:1], value[::-1], value.upper(), value + " "]
        if " " in value:
            out.append(value.replace(" ", "   "))  # runs of spaces
        return out
    if isinstance(value, list | tuple):
        kind = type(value)
        seqs: list[Any] = [kind(), kind(value[:1]), kind(reversed(value))]
        if value and all(isinstance(x, int) and not isinstance(x, bool) for x in value):
            seqs += [kind(2 * x + 1 for x in value), kind(-x for x in value), kind(2 * x for x in value)]
        return seqs
    if isinstance(value, dict):
        return [{}]
    return []


def _literal(node: ast.expr) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _calls_of(expression: str, entry_point: str) -> Iterable[ast.Call]:
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return ()
    return (
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == entry_point
    )


def mutated_calls(expressions: Sequence[str], entry_point: str, *, limit: int = 12) -> list[str]:
    """Calls of `entry_point` made from those in `expressions` (checks' expressions, proposed calls)
    by replacing one literal positional argument with a variant; the originals are left out. Spread
    over the examples and arguments first (one variant each in turn), at most `limit`."""
    seen = set()
    per_source: list[list[str]] = []
    for expression in expressions:
        for call in _calls_of(expression, entry_point):
            if call.keywords:
                continue
            literals = [_literal(a) for a in call.args]
            if not literals or not all(ok for ok, _ in literals):
                continue
            seen.add(ast.unparse(call))
            for i, (_, value) in enumerate(literals):
                mine = []
                for variant in _variants(value):
                    args = [repr(v) for _, v in literals]
                    args[i] = repr(variant)
                    mine.append(f"{entry_point}({', '.join(args)})")
                per_source.append(mine)
    out: list[str] = []
    depth = max((len(m) for m in per_source), default=0)
    for k in range(depth):  # round-robin: the first variant of every argument, then the second, …
        for mine in per_source:
            if k < len(mine) and mine[k] not in seen:
                seen.add(mine[k])
                out.append(mine[k])
                if len(out) >= limit:
                    return out
    return out
