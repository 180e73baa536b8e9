"""What a verified run checks and runs: the checks for a task, and the code in a model's answer.

checks, entry, problems = gather_checks(task, tests=None, examples=["is_prime(7) is True"])
code = candidate_code(answer_text, entry, prelude=task_prelude(task))
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

from ..synthesizer import extract_code_blocks
from .checks import Check
from .extract import _dedupe, checks_from_tests, example_check, extract_checks, guess_entry_point

_TASK_FENCE = re.compile(r"^[ \t]*```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)^[ \t]*```", re.S | re.M | re.I)


def given_checks(tests: str | None, examples: Sequence[str], entry_point: str | None) -> list[Check]:
    """The user's tests and examples as given checks. Raises ValueError with one sentence."""
    checks: list[Check] = []
    if tests is not None:
        found = checks_from_tests(tests)
        if not found:
            raise ValueError("the tests hold no assert and no test_ function to run")
        checks += found
    for text in examples:
        try:
            checks.append(example_check(text, entry_point=entry_point))
        except ValueError as err:
            raise ValueError(f"the example {text!r} cannot be used: {err}") from None
    return checks


def gather_checks(
    task: str, *, tests: str | None = None, examples: Sequence[str] = (), extract: bool = True
) -> tuple[list[Check], str | None]:
    """Given checks first, then those extracted from the task (unless `extract` is off), no duplicates;
    and the function they call. Raises ValueError (one sentence) for tests or examples it cannot use."""
    # Code to complete names its function last (helpers first, as in HumanEval); then only examples
    # calling it count (HumanEval/81 shows `grade_equation(...)` for `numerical_letter_grade`).
    given_entry = _last_function(task_prelude(task))
    extracted = extract_checks(task, entry_point=given_entry) if extract else []
    entry = given_entry or guess_entry_point(task, extracted)
    given = given_checks(tests, examples, entry)
    checks = _dedupe(given + extracted)
    return checks, entry or guess_entry_point(task, checks)


def task_prelude(task: str) -> str:
    """Python the task itself gives (a signature with its imports, as HumanEval does): the candidate
    runs after it, so its imports and helpers are there and the candidate's definitions win."""
    # A fence is a line of its own: "answer in one ```python block." in the prose opens nothing.
    for match in _TASK_FENCE.finditer(task):
        if _defines(match.group(1)):
            return match.group(1).strip("\n")
    return ""


def _last_function(code: str) -> str | None:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    names = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return names[-1] if names else None


def _defines(code: str) -> bool:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in tree.body)


def candidate_code(answer: str, entry_point: str | None, *, prelude: str = "") -> str:
    """The code to run from a model's answer: the Python block defining the entry point, else the
    largest block that parses, else the answer itself when it is Python; after the task's prelude."""
    blocks = [b for b in extract_code_blocks(answer, "python") if b.language in ("python", None)]
    good = [b.code for b in blocks if b.syntax_error is None] or [b.code for b in blocks]
    if not good and _defines(answer):
        good = [answer]
    if not good:
        return prelude
    defines = [c for c in good if entry_point and f"def {entry_point}(" in c]
    code = defines[0] if defines else max(good, key=len)
    return f"{prelude.rstrip()}\n\n\n{code}\n" if prelude else code
