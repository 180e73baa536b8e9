"""Inputs made from the task's examples by changing one literal argument at a time."""

from __future__ import annotations

from jarvis.chains.verify.mutate import mutated_calls


def test_each_argument_type_gets_its_own_variants_spread_over_the_examples():
    calls = mutated_calls(["pluck([4, 2, 3]) == [2, 1]"], "pluck")
    assert calls[:3] == ["pluck([])", "pluck([4])", "pluck([3, 2, 4])"]
    assert "pluck([9, 5, 7])" in calls  # all odd: the case a model's inputs tend to miss
    spaces = mutated_calls(['fix_spaces("Example 1") == "Example_1"'], "fix_spaces")
    assert "fix_spaces('Example   1')" in spaces and "fix_spaces('')" in spaces
    two = mutated_calls(["add(2, 3) == 5"], "add", limit=4)
    assert two == ["add(0, 3)", "add(2, 0)", "add(1, 3)", "add(2, 1)"]  # round-robin over arguments


def test_originals_other_functions_and_non_literals_are_left_out():
    calls = mutated_calls(["f(1)", "f(x)", "g(1)", "f(1, key=2)", "f(", "f(True)"], "f", limit=50)
    assert "f(1)" not in calls and not any(c.startswith("g(") for c in calls)
    assert "f(False)" in calls and all("key" not in c and "x" not in c for c in calls)
    assert mutated_calls(["f(10 ** 6)"], "f") == []  # an expression, not a literal: not guessed at
    big = mutated_calls(["f(1000)"], "f")
    assert "f(2001)" not in big and "f(0)" in big  # big numbers are not grown (they may only time out)
