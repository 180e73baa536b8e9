"""Write checks as a pytest file that runs beside the code (`jarvis export` puts both in a folder).

text = pytest_file(checks, module="solution")   # test_solution.py, for solution.py
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .checks import CALL, COMPARE, REPR, STR, Check


def _test_name(index: int, check: Check) -> str:
    words = re.sub(r"[^0-9a-zA-Z]+", "_", check.expression).strip("_").lower()[:40]
    return f"test_{index:02d}_{words or 'check'}"


def _body(check: Check) -> list[str]:
    if check.kind == COMPARE:
        return [f"    assert ({check.expression}) {check.op} ({check.expected})"]
    if check.kind == CALL:
        return [f"    {check.expression}"]
    if check.kind == REPR:
        shown = " ".join(str(check.expected).split())
        return [f"    assert ' '.join(repr({check.expression}).split()) == {shown!r}"]
    if check.kind == STR:
        return [f"    assert str({check.expression}).strip() == {str(check.expected).strip()!r}"]
    return [f"    assert {check.expression}"]


def pytest_file(checks: Sequence[Check], *, module: str = "solution") -> str:
    """A pytest module: `from module import *`, each check's setup once, one test per check with
    its source (given / extracted / model) in a comment."""
    if not module.isidentifier():
        raise ValueError(f"{module!r} is not a module name")
    lines = [
        f'"""Checks for {module}.py, written by Jarvis: run with `python -m pytest`."""',
        "",
        f"from {module} import *  # noqa: F403",
        "",
    ]
    setups: list[str] = []
    for check in checks:
        if check.setup and check.setup not in setups:
            setups.append(check.setup)
    for setup in setups:
        lines += ["", setup.rstrip(), ""]
    for index, check in enumerate(checks, 1):
        about = " ".join(check.display.split())
        comment = f"    # {check.source}: {about}"[:110]
        lines += ["", f"def {_test_name(index, check)}():", comment, *_body(check)]
    return "\n".join(lines).rstrip() + "\n"
