"""The harness runs a candidate against checks (or on inputs) in one sandbox run, per-check results."""

from __future__ import annotations

import pytest

from jarvis.chains.verify.checks import CALL, COMPARE, MODEL, Check
from jarvis.chains.verify.extract import checks_from_tests, extract_checks
from jarvis.chains.verify.harness import run_checks, run_inputs
from jarvis.chains.verify.limits import Limits
from jarvis.chains.verify.sandbox import Sandbox
from jarvis.chains.verify.tiers import TierProbe

pytestmark = pytest.mark.slow

PROBE = TierProbe()
GOOD = "def is_prime(n):\n    return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))\n"
ODD = "def is_prime(n):\n    print('checking', n)\n    return n % 2 == 1\n"
CHECKS = extract_checks("write is_prime(n); is_prime(7) is True, is_prime(1) is False, is_prime(9) is False")


@pytest.fixture
def sandbox():
    return Sandbox(Limits(), probe=PROBE)


async def test_a_right_candidate_passes_every_check(sandbox):
    run = await run_checks(sandbox, GOOD, CHECKS)
    assert run.passed_all and run.passed == run.passed_authoritative == run.authoritative == 3
    assert [r.explain() for r in run.results] == [
        "✓ is_prime(7) is True",
        "✓ is_prime(1) is False",
        "✓ is_prime(9) is False",
    ]
    assert run.sandbox.tier == (await sandbox.tier()).tier


async def test_a_wrong_candidate_fails_with_the_actual_values_and_its_prints_do_not_confuse(sandbox):
    run = await run_checks(sandbox, ODD, CHECKS)
    assert [r.passed for r in run.results] == [True, False, False]
    assert run.results[1].actual == "True" and run.results[1].explain() == "✗ is_prime(1) is False: got True"
    assert "checking 9" in run.sandbox.stdout and "@@harness" not in run.sandbox.stdout
    assert [r.check for r in run.failures()] == CHECKS[1:]


async def test_a_hanging_check_times_out_alone(sandbox):
    code = "import time\ndef is_prime(n):\n    if n == 1:\n        time.sleep(100)\n    return n == 7\n"
    run = await run_checks(sandbox, code, CHECKS, per_check_seconds=1)
    assert [r.passed for r in run.results] == [True, False, True]
    assert run.results[1].error == "timed out after 1 s"


async def test_a_candidate_that_does_not_load_fails_every_check_saying_why(sandbox):
    run = await run_checks(sandbox, "def is_prime(n) return 1", CHECKS)
    assert not any(r.passed for r in run.results)
    assert run.load_error.startswith("SyntaxError")
    assert all(r.error.startswith("the candidate did not load: SyntaxError") for r in run.results)


async def test_an_exception_in_a_check_keeps_its_traceback_tail(sandbox):
    code = "def is_prime(n):\n    return {}[n]\n"
    run = await run_checks(sandbox, code, CHECKS[:1])
    assert run.results[0].error == "KeyError: 7"
    assert "return {}[n]" in run.results[0].traceback


async def test_a_candidate_that_exits_mid_run_still_gives_every_check_a_result(sandbox):
    code = "import os\ndef is_prime(n):\n    os._exit(3)\n"
    run = await run_checks(sandbox, code, CHECKS)
    assert len(run.results) == 3 and not any(r.passed for r in run.results)
    assert run.note.startswith("the run ") and run.results[0].error == run.note


async def test_given_test_functions_and_from_solution_imports(sandbox):
    tests = (
        "from solution import is_prime\n\ndef test_small():\n    assert is_prime(2)\n\n"
        "def test_composite():\n    assert not is_prime(4), 'four is not prime'\n\n"
        "assert is_prime(13) is True\n"
    )
    checks = checks_from_tests(tests)
    assert [c.display for c in checks] == [
        "is_prime(13) is True",
        "test_small() passes",
        "test_composite() passes",
    ]
    run = await run_checks(sandbox, GOOD, checks)
    assert [r.passed for r in run.results] == [True, True, True]
    wrong = await run_checks(sandbox, "def is_prime(n):\n    return True\n", checks)
    assert [r.passed for r in wrong.results] == [True, True, False]
    assert wrong.results[2].check.kind == CALL
    assert wrong.results[2].error == (
        "AssertionError: four is not prime at assert not is_prime(4), 'four is not prime'"
    )


async def test_doctest_kinds_are_judged(sandbox):
    task = (
        ">>> xs = [3, 1]\n>>> sort_it(xs)\n[1, 3]\n>>> print(sort_it([2, 1]))\n[1, 2]\n"
        ">>> {sort_it([1])[0]}\n{1}\n"
    )
    checks = extract_checks(task)
    run = await run_checks(sandbox, "def sort_it(xs):\n    return sorted(xs)\n", checks)
    assert [r.passed for r in run.results] == [True, True, True], [r.explain() for r in run.results]


async def test_model_checks_are_run_but_not_authoritative(sandbox):
    checks = [*CHECKS, Check("is_prime(4)", kind=COMPARE, op="is", expected="True", source=MODEL)]
    run = await run_checks(sandbox, GOOD, checks)
    assert run.passed == 3 and run.passed_authoritative == 3 and run.authoritative == 3
    assert not run.results[3].passed


async def test_outputs_on_proposed_inputs_are_canonical(sandbox):
    calls = ["is_prime(2)", "is_prime(15)", "is_prime('x')", "{is_prime(3), 2.0 / 3}", "{'b': 1, 'a': 2}"]
    good = await run_inputs(sandbox, GOOD, calls)
    assert good.outputs == ("True", "False", "raises TypeError", "{0.666666667, True}", "{'a': 2, 'b': 1}")
    hang = "import time\ndef is_prime(n):\n    time.sleep(100)\n"
    slow = await run_inputs(sandbox, hang, calls[:2], per_call_seconds=0.5)
    assert slow.outputs == ("timeout", "timeout")
    broken = await run_inputs(sandbox, "def is_prime(", calls[:2])
    assert broken.outputs == ("did not load", "did not load") and broken.load_error.startswith("SyntaxError")


async def test_code_that_hangs_while_loading_says_so(sandbox):
    run = await run_checks(
        sandbox, "while True:\n    pass\n", CHECKS[:1], per_check_seconds=1, load_seconds=1
    )
    assert run.load_error == "loading the code took longer than 1 s"
    assert run.results[0].error == "the candidate did not load: loading the code took longer than 1 s"
