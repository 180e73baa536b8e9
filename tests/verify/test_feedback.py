"""Repair feedback names the failing checks with actual values; a repair may not break a passing check;
checks export as a pytest file that really runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jarvis.chains.verify.checks import COMPARE, MODEL, Check
from jarvis.chains.verify.extract import checks_from_tests, extract_checks
from jarvis.chains.verify.feedback import failure_report, repair_keeps_passes
from jarvis.chains.verify.harness import CandidateRun, CheckResult
from jarvis.chains.verify.pytest_file import pytest_file
from jarvis.chains.verify.sandbox import PASSED, SandboxResult
from jarvis.chains.verify.tiers import Tier

CHECKS = extract_checks("is_prime(7) is True, is_prime(1) is False, is_prime(9) is False")
MODEL_CHECK = Check("is_prime(4)", kind=COMPARE, op="is", expected="False", source=MODEL)
RAN = SandboxResult(reason=PASSED, tier=Tier.BWRAP, duration=0.1)


def run_of(*passed: bool, checks=CHECKS, **extra) -> CandidateRun:
    results = tuple(
        CheckResult(c, p, actual=None if p else "True", **extra) for c, p in zip(checks, passed, strict=True)
    )
    return CandidateRun(results, RAN)


def test_the_report_lists_failures_with_actual_values_and_traceback_tails():
    run = run_of(True, False, False, traceback="\n".join(f"line {i}" for i in range(10)))
    text = failure_report(run)
    assert text.startswith(
        "Check failed: is_prime(1) is False\n  actual value: True\n  traceback (last lines):"
    )
    assert "    line 9" in text and "    line 3" not in text
    assert "Check failed: is_prime(9) is False" in text
    assert failure_report(run, limit=1).endswith("(1 more failing check not shown)")
    assert failure_report(run_of(True, True, True)) == ""


def test_model_checks_stay_out_of_the_report_unless_asked():
    checks = (*CHECKS, MODEL_CHECK)
    run = run_of(True, True, True, False, checks=checks)
    assert failure_report(run) == ""
    assert "is_prime(4) is False" in failure_report(run, authoritative_only=False)


def test_code_that_does_not_load_is_one_line_and_its_traceback():
    results = tuple(
        CheckResult(c, False, error="the candidate did not load", traceback="File x\nSyntaxError")
        for c in CHECKS
    )
    run = CandidateRun(results, RAN, load_error="SyntaxError: expected ':' (solution.py, line 1)")
    assert failure_report(run) == (
        "The code does not load: SyntaxError: expected ':' (solution.py, line 1)\nFile x\nSyntaxError"
    )


def test_a_repair_is_kept_only_if_it_breaks_nothing_and_gains_something():
    before = run_of(True, False, False)
    assert repair_keeps_passes(before, run_of(True, True, False))
    assert not repair_keeps_passes(before, run_of(False, True, True))  # broke a passing check
    assert not repair_keeps_passes(before, run_of(True, False, False))  # gained nothing
    with pytest.raises(ValueError, match="same checks"):
        repair_keeps_passes(before, run_of(True, checks=CHECKS[:1]))


@pytest.mark.slow
async def test_checks_export_as_a_pytest_file_that_passes_on_the_right_code_and_fails_on_wrong(tmp_path):
    task = ">>> xs = [3, 1]\n>>> sort_it(xs)\n[1, 3]\n>>> print(sort_it([2, 1]))\n[1, 2]\nsort_it([]) == []"
    given = checks_from_tests("def test_one():\n    assert sort_it([1]) == [1]\n")
    checks = [*extract_checks(task), *given]
    text = pytest_file(checks)
    compile(text, "test_solution.py", "exec")
    (tmp_path / "test_solution.py").write_text(text)
    (tmp_path / "solution.py").write_text("def sort_it(xs):\n    return sorted(xs)\n")
    ok = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stdout
    assert "5 passed" in ok.stdout  # 4 checks and the given test function itself
    (tmp_path / "solution.py").write_text("def sort_it(xs):\n    return xs\n")
    bad = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and "2 failed" in bad.stdout, bad.stdout
    with pytest.raises(ValueError, match="not a module name"):
        pytest_file(checks, module="no-dashes")
