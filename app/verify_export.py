"""`jarvis export RUN --tests-dir DIR`: a verified run's winning code and its checks as a pytest file.

DIR gets solution.py (the code that won) and test_solution.py (every check, with its source in a
comment), so `cd DIR && python -m pytest` runs them again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jarvis.chains.verify.checks import Check
from jarvis.chains.verify.pytest_file import pytest_file
from jarvis.chains.verify.task_checks import candidate_code, task_prelude


class ExportError(Exception):
    """A sentence: why the checks cannot be written."""


def write_tests(run: dict[str, Any], directory: str) -> list[Path]:
    """Write solution.py and test_solution.py into `directory` (made if missing); the paths written."""
    record = run.get("verification")
    if not record:
        raise ExportError(
            f"run {run['id']} was not verified: it has no checks to write "
            "(run it with --verify or --chain verified)."
        )
    if record.get("mode") == "project":  # chains.verify.project_mode: nothing here to write as pytest
        raise ExportError(
            f"run {run['id']} was verified by your project's tests (`{record.get('command')}`), not by"
            f" checks of its own: apply its edits (jarvis apply {run['id']}) and run them there."
        )
    result = json.loads(run["result_json"]) if run.get("result_json") else {}
    code = candidate_code(
        str(result.get("answer") or ""), record.get("entry_point"), prelude=task_prelude(run["task"])
    )
    if not code.strip():
        raise ExportError(f"run {run['id']} has no Python code in its answer.")
    checks = [Check.from_json(c) for c in record.get("checks", [])]
    out = Path(directory)
    try:
        out.mkdir(parents=True, exist_ok=True)
        solution, tests = out / "solution.py", out / "test_solution.py"
        solution.write_text(code.rstrip() + "\n", encoding="utf-8")
        tests.write_text(pytest_file(checks, module="solution"), encoding="utf-8")
    except OSError as err:
        raise ExportError(f"cannot write into {directory}: {err.strerror}.") from None
    return [solution, tests]
