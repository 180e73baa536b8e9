"""The difference a repair prompt names between an expected and an actual value."""

from __future__ import annotations

import pytest

from jarvis.chains.verify.checks import COMPARE, Check
from jarvis.chains.verify.diagnose import mismatch_hint
from jarvis.chains.verify.feedback import failure_report
from jarvis.chains.verify.harness import CandidateRun, CheckResult
from jarvis.chains.verify.sandbox import PASSED, SandboxResult
from jarvis.chains.verify.tiers import Tier


@pytest.mark.parametrize(
    ("expected", "actual", "hint"),
    [
        (
            '("Saturn", "Uranus")',
            "['Saturn', 'Uranus']",
            "a list where a tuple is expected (the items are right)",
        ),
        ("[-4, -3, 5]", "[5, -3, -4]", "wrong order: the expected value is in ascending order"),
        ("[3, 2, 1]", "[1, 3, 2]", "wrong order: the expected value is in descending order"),
        ("[2, 1, 3]", "[1, 3, 2]", "the right items in the wrong order"),
        ("[1, 2]", "[1, 2, 3]", "3 items where 2 are expected"),
        ("-9", "9", "the sign is wrong"),
        ("True", "'True'", "a string ('True') where a bool is expected"),
        ("None", "'x'", "a string ('x') where None is expected"),
    ],
)
def test_the_difference_is_named(expected, actual, hint):
    assert hint in mismatch_hint(expected, actual)


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        ("-9", "-36"),  # just a different number: the values say it all
        ("[1, 2]", "[1, 2]"),
        ("f(3)", "4"),  # not a literal: nothing is evaluated
        ("[1, 2]", "<object at 0x1>"),
        ("[1, 2]", None),
    ],
)
def test_nothing_is_said_when_there_is_nothing_useful(expected, actual):
    assert mismatch_hint(expected, actual) == ""


def test_the_report_shows_expected_actual_and_the_difference():
    check = Check("bf('Jupiter', 'Neptune')", COMPARE, "==", '("Saturn", "Uranus")')
    run = CandidateRun(
        (CheckResult(check, False, actual="['Saturn', 'Uranus']"),),
        SandboxResult(reason=PASSED, tier=Tier.BWRAP, duration=0.1),
    )
    assert failure_report(run).splitlines() == [
        "Check failed: bf('Jupiter', 'Neptune') == (\"Saturn\", \"Uranus\")",
        '  expected value: ("Saturn", "Uranus")',
        "  actual value: ['Saturn', 'Uranus']",
        "  difference: it returned a list where a tuple is expected (the items are right)",
    ]
