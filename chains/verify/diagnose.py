"""One sentence on *how* an actual value differs from the expected one, for a repair prompt.

    hint = mismatch_hint("(\"Saturn\", \"Uranus\")", "['Saturn', 'Uranus']")
    # "it returned a list where a tuple is expected (the items are right)"

Small models read "actual value: ['Saturn', 'Uranus']" next to `== ("Saturn", "Uranus")` and answer
with the same code: measured on HumanEval/120 and /148, every repair came back unchanged. Naming the
difference (the type, the order, the sign) is what they act on. Both sides are literals as text
(the check's source and the candidate's repr); anything `ast.literal_eval` cannot read gets no hint.
Nothing is evaluated but literals, in our process or elsewhere.
"""

from __future__ import annotations

import ast
from collections import Counter
from typing import Any

_NAMES = {
    bool: "a bool",
    int: "an int",
    float: "a float",
    str: "a string",
    list: "a list",
    tuple: "a tuple",
    dict: "a dict",
    set: "a set",
    type(None): "None",
}


def _literal(text: str | None) -> tuple[bool, Any]:
    if text is None:
        return False, None
    try:
        return True, ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None


def _name(value: object) -> str:
    return _NAMES.get(type(value), f"a {type(value).__name__}")


def _same_items(a: object, b: object) -> bool:
    """Same elements regardless of container type (list vs tuple), order kept."""
    return isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and list(a) == list(b)


def _counts(items: list[Any] | tuple[Any, ...]) -> Counter[str] | None:
    try:
        return Counter(repr(item) for item in items)
    except Exception:  # an item whose repr fails cannot be compared this way
        return None


def _order_hint(expected: list[Any] | tuple[Any, ...], actual: list[Any] | tuple[Any, ...]) -> str:
    if len(expected) != len(actual) or len(expected) < 2:
        return ""
    same = _counts(expected)
    if same is None or same != _counts(actual):
        return ""
    try:
        if list(expected) == sorted(expected):
            return "the right items in the wrong order: the expected value is in ascending order"
        if list(expected) == sorted(expected, reverse=True):
            return "the right items in the wrong order: the expected value is in descending order"
    except TypeError:  # items that do not compare with each other
        pass
    return "the right items in the wrong order"


def mismatch_hint(expected_text: str | None, actual_text: str | None) -> str:
    """How `actual` differs from `expected`, in words; empty when there is nothing useful to say."""
    ok_expected, expected = _literal(expected_text)
    ok_actual, actual = _literal(actual_text)
    if not (ok_expected and ok_actual) or expected == actual and type(expected) is type(actual):
        return ""
    if _same_items(expected, actual):
        return f"it returned {_name(actual)} where {_name(expected)} is expected (the items are right)"
    if type(expected) is not type(actual) and not (
        isinstance(expected, (int, float))
        and isinstance(actual, (int, float))
        and not isinstance(actual, bool)
    ):
        if expected == actual:  # 1 == True, 0 == False: right value, wrong type
            return f"it returned {_name(actual)} where {_name(expected)} is expected"
        return f"it returned {_name(actual)} ({actual_text}) where {_name(expected)} is expected"
    if isinstance(expected, (list, tuple)) and isinstance(actual, (list, tuple)):
        order = _order_hint(expected, actual)
        if order:
            return order
        if len(expected) != len(actual):
            return f"{len(actual)} items where {len(expected)} are expected"
    numbers = isinstance(expected, (int, float)) and isinstance(actual, (int, float))
    if numbers and expected and expected == -actual:
        return "the sign is wrong"
    return ""
