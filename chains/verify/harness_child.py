"""The harness's side inside the sandbox: load the candidate, run each check or call, report JSON.

Never imported by jarvis: harness.py appends a call to `main(...)` with the job as JSON and runs
the whole file as the sandboxed script. Stdlib only. The candidate is `solution.py` beside it, so a
user's test file can `from solution import f`. Each check gets its own alarm; a check that prints,
exits or raises cannot stop the others from being reported.
"""

from __future__ import annotations

import json
import operator
import os
import signal
import sys
import time
import traceback

_OPS = {"==": operator.eq, "!=": operator.ne, "is": operator.is_, "is not": operator.is_not,
        "in": lambda a, b: a in b, "not in": lambda a, b: a not in b,
        "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class CheckTimeout(BaseException):
    """Raised by the alarm: a BaseException so that a candidate's `except Exception` does not eat it."""


def _alarm(signum, frame):
    raise CheckTimeout("the check ran out of time")


def _short(text, limit=300):
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _repr(value):
    try:
        return _short(repr(value))
    except BaseException as exc:
        return f"<unrepresentable {type(value).__name__}: {exc!r}>"


def _canon(value, depth=0):
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


def _tail(exc, lines=8):
    text = "".join(traceback.format_exception(exc)).splitlines()
    return "\n".join(text[-lines:])[-1500:]


def _is_cpu_limit(exc):
    return type(exc).__name__ == "CpuLimitReached"


def _judge(check, env):
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


def _timed(seconds, fn, *args):
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _load(seconds):
    """The candidate's namespace, or the error that stopped it loading."""
    try:
        module = _timed(seconds, __import__, "solution")
    except BaseException as exc:
        if _is_cpu_limit(exc):
            raise
        return None, f"{type(exc).__name__}: {_short(str(exc))}", _tail(exc)
    return dict(vars(module)), "", ""


def run_checks(job):
    env, load_error, load_tb = _load(job["load_seconds"])
    results = []
    setups = {}
    for index, check in enumerate(job["checks"]):
        started = time.monotonic()
        record = {"index": index, "passed": False, "actual": None, "error": "", "traceback": ""}
        try:
            if env is None:
                record["error"], record["traceback"] = f"the candidate did not load: {load_error}", load_tb
                results.append(record)
                continue
            setup = check.get("setup") or ""
            if setup not in setups:
                scope = dict(env)
                _timed(job["check_seconds"], exec, setup, scope)
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
            record["error"] = f"{type(exc).__name__}: {_short(str(exc))}"
            record["traceback"] = _tail(exc)
        finally:
            record["seconds"] = round(time.monotonic() - started, 4)
        results.append(record)
    return {"load_error": load_error, "results": results}


def run_calls(job):
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


def main(job_json, marker):
    job = json.loads(job_json)
    signal.signal(signal.SIGALRM, _alarm)
    report = run_checks(job) if job["mode"] == "checks" else run_calls(job)
    try:
        sys.stdout.flush()
    except BaseException:
        pass
    data = f"\n{marker}{json.dumps(report)}{marker}\n".encode()
    while data:
        data = data[os.write(1, data):]
