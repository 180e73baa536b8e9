"""The harness's side inside the sandbox: load the candidate, run each check or call, report JSON.

Never imported by jarvis: harness.py appends a call to `main(...)` with the job as JSON and runs
the whole file as the sandboxed script. Stdlib only. The candidate is `solution.py` beside it, so a
user's test file can `from solution import f`. Each check gets its own alarm; a check that prints,
exits or raises cannot stop the others from being reported.
"""

from __future__ import annotations

import ast
import json
import linecache
import operator
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

_OPS = {
    "==": operator.eq,
    "!=": operator.ne,
    "is": operator.is_,
    "is not": operator.is_not,
    "in": lambda a, b: a in b,
    "not in": lambda a, b: a not in b,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class CheckTimeout(BaseException):
    """Raised by the alarm: a BaseException so that a candidate's `except Exception` does not eat it."""


def _alarm(signum: int, frame: Any) -> None:
    raise CheckTimeout("the check ran out of time")


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _repr(value: Any) -> str:
    try:
        return _short(repr(value))
    except BaseException as exc:
        return f"<unrepresentable {type(value).__name__}: {exc!r}>"


def _canon(value: Any, depth: int = 0) -> str:
    """A repr that equal outputs share: sets and dicts sorted, floats to 9 significant digits."""
    if depth > 20:
        return "..."
    if isinstance(value, float):
        return format(value, ".9g")
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(_canon(v, depth + 1) for v in value)) + "}"
    if isinstance(value, dict):
        items = sorted(f"{_canon(k, depth + 1)}: {_canon(v, depth + 1)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_canon(v, depth + 1) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    return _repr(value)


def _tail(exc: BaseException, lines: int = 8) -> str:
    text = "".join(traceback.format_exception(exc)).splitlines()
    return "\n".join(text[-lines:])[-1500:]


def _is_cpu_limit(exc: BaseException) -> bool:
    return type(exc).__name__ == "CpuLimitReached"


def _judge(check: dict[str, Any], env: dict[str, Any]) -> tuple[bool, str | None]:
    kind = check["kind"]
    value = eval(check["expression"], env)
    if kind == "compare":
        expected = eval(check["expected"], env)
        return bool(_OPS[check["op"]](value, expected)), _repr(value)
    if kind == "repr":
        shown = repr(value)
        return " ".join(shown.split()) == " ".join(check["expected"].split()), _short(shown)
    if kind == "str":
        shown = str(value)
        return shown.strip() == check["expected"].strip(), _short(shown)
    if kind == "call":
        return True, None
    return bool(value), _repr(value)


def _timed(seconds: float, fn: Callable[..., Any], *args: Any) -> Any:
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _load(seconds: float) -> tuple[dict[str, Any] | None, str, str]:
    """The candidate's namespace, or the error that stopped it loading."""
    try:
        module = _timed(seconds, __import__, "solution")
    except CheckTimeout as exc:
        return None, f"loading the code took longer than {seconds:g} s", _tail(exc)
    except BaseException as exc:
        if _is_cpu_limit(exc):
            raise
        return None, f"{type(exc).__name__}: {_short(str(exc))}", _tail(exc)
    return dict(vars(module)), "", ""


TESTS_FILE = "tests.py"


def _exec_setup(setup: str, scope: dict[str, Any]) -> None:
    # A real file name, and its lines in linecache, so that tracebacks show the failing test line.
    linecache.cache[TESTS_FILE] = (len(setup), None, setup.splitlines(True), TESTS_FILE)
    exec(compile(setup, TESTS_FILE, "exec"), scope)


def _failed_assert(exc: AssertionError, setup: str) -> tuple[str, str | None]:
    """For an assert in the test code: the assert's text and the repr of its left side, re-evaluated."""
    found = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == TESTS_FILE:
            found = (frame, lineno)
    if found is None:
        return "", None
    frame, lineno = found
    try:
        tree = ast.parse(setup)
    except SyntaxError:
        return "", None
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and node.lineno <= lineno <= (node.end_lineno or node.lineno):
            text = _short(" ".join((ast.get_source_segment(setup, node) or "").split()))
            test = node.test
            if isinstance(test, ast.Compare) and len(test.ops) == 1:
                try:
                    left = compile(ast.Expression(test.left), TESTS_FILE, "eval")
                    return text, _repr(eval(left, frame.f_globals, frame.f_locals))
                except BaseException:
                    return text, None
            return text, None
    return "", None


def run_checks(job: dict[str, Any]) -> dict[str, Any]:
    env, load_error, load_tb = _load(job["load_seconds"])
    results = []
    setups = {}
    for index, check in enumerate(job["checks"]):
        started = time.monotonic()
        record: dict[str, Any] = {
            "index": index,
            "passed": False,
            "actual": None,
            "error": "",
            "traceback": "",
        }
        try:
            if env is None:
                record["error"], record["traceback"] = f"the candidate did not load: {load_error}", load_tb
                results.append(record)
                continue
            setup = check.get("setup") or ""
            if setup not in setups:
                scope = dict(env)
                _timed(job["check_seconds"], _exec_setup, setup, scope)
                setups[setup] = scope
            scope = dict(setups[setup])
            record["passed"], record["actual"] = _timed(job["check_seconds"], _judge, check, scope)
        except CheckTimeout:
            record["error"] = f"timed out after {job['check_seconds']:g} s"
        except BaseException as exc:
            if _is_cpu_limit(exc):
                record["error"] = "the run's CPU limit was reached"
                results.append(record)
                break
            record["error"] = f"{type(exc).__name__}: {_short(str(exc))}" if str(exc) else type(exc).__name__
            record["traceback"] = _tail(exc)
            if isinstance(exc, AssertionError):
                text, record["actual"] = _failed_assert(exc, check.get("setup") or "")
                if text:
                    record["error"] = f"{record['error']} at {text}"
        finally:
            record["seconds"] = round(time.monotonic() - started, 4)
        results.append(record)
    return {"load_error": load_error, "results": results}


def run_calls(job: dict[str, Any]) -> dict[str, Any]:
    env, load_error, _ = _load(job["load_seconds"])
    outputs = []
    for call in job["calls"]:
        if env is None:
            outputs.append("did not load")
            continue
        try:
            outputs.append(_timed(job["check_seconds"], lambda c: _canon(eval(c, dict(env))), call))
        except CheckTimeout:
            outputs.append("timeout")
        except BaseException as exc:
            if _is_cpu_limit(exc):
                outputs.append("timeout")
                break
            outputs.append(f"raises {type(exc).__name__}")
    return {"load_error": load_error, "outputs": outputs}


def main(job_json: str, marker: str) -> None:
    job = json.loads(job_json)
    signal.signal(signal.SIGALRM, _alarm)
    report = run_checks(job) if job["mode"] == "checks" else run_calls(job)
    try:
        sys.stdout.flush()
    except BaseException:
        pass
    data = f"\n{marker}{json.dumps(report)}{marker}\n".encode()
    while data:
        data = data[os.write(1, data) :]
