"""Runs inside the sandboxed child: set the limits, then run the candidate, then report.

This file is copied into the work dir and started as `python -I child_bootstrap.py config.json`;
jarvis never imports it. Limits are set here, in the child, rather than with `preexec_fn`,
which can deadlock a parent that has threads (ours does). Stdlib only: the child has no jarvis.

The report is one JSON line between two copies of a random marker, printed last on stdout, so
that the candidate's own prints cannot be mistaken for it.
"""

from __future__ import annotations

import ast
import builtins
import errno
import json
import os
import resource
import signal
import sys
import threading
import time
import traceback

# The fork budget is split between parent and child at each fork, so however the candidate
# forks, the whole tree never makes more than the budget's number of processes: RLIMIT_NPROC
# is not enforced for root, and only counts a fresh tree inside its own user namespace.
_budget = [0]
_pending_child_share = [0]
# Starting another program drops this hook, so it is refused outright, as is ctypes, which
# could call fork() directly.
_REFUSED = (
    "subprocess.Popen",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.system",
    "ctypes.dlopen",
    "os.forkpty",
    "pty.spawn",
)


def _audit(event: str, args: tuple) -> None:
    if event in _REFUSED:
        raise PermissionError(f"the sandbox does not allow {event}")
    if event == "os.fork":
        if _budget[0] <= 0:
            raise BlockingIOError(errno.EAGAIN, "the sandbox's process limit is reached")
        _budget[0] -= 1
        _pending_child_share[0] = _budget[0] // 2
        _budget[0] -= _pending_child_share[0]


class CpuLimitReached(BaseException):
    """Raised from SIGXCPU; a BaseException so that the candidate's `except Exception` misses it."""


def _cpu_exhausted(signum: int, frame: object) -> None:
    raise CpuLimitReached("CPU time limit reached")


def _in_child() -> None:
    _budget[0] = _pending_child_share[0]


def set_limits(limits: dict) -> list[str]:
    """Apply each limit given (soft = hard, so the candidate cannot raise it); name what held."""
    applied = []
    if limits.get("wall_seconds"):
        # The parent kills us at the wall limit; should the parent die first, this still ends the
        # whole group a little later (a sleeping candidate uses no CPU, so RLIMIT_CPU never fires).
        # Started before RLIMIT_NPROC, which counts threads too.
        threading.Thread(target=_watchdog, args=(float(limits["wall_seconds"]) + 2,), daemon=True).start()
        applied.append("watchdog")
    table = {
        "cpu_seconds": resource.RLIMIT_CPU,
        "memory_bytes": resource.RLIMIT_AS,
        "file_bytes": resource.RLIMIT_FSIZE,
        "open_files": resource.RLIMIT_NOFILE,
    }
    if limits.get("nproc_enforced"):
        table["processes"] = resource.RLIMIT_NPROC
    for name, which in table.items():
        value = limits.get(name)
        if value is None:
            continue
        # CPU: SIGXCPU at the soft limit lets us report it; the hard limit a second later kills.
        hard = value + 1 if name == "cpu_seconds" else value
        try:
            resource.setrlimit(which, (value, hard))
            applied.append(name)
        except (ValueError, OSError):
            pass  # reported by its absence from `applied`
    signal.signal(signal.SIGXCPU, _cpu_exhausted)
    if limits.get("processes") is not None:
        _budget[0] = max(0, int(limits["processes"]) - 1)
        os.register_at_fork(after_in_child=_in_child)
        applied.append("fork_budget")
    sys.addaudithook(_audit)
    return applied


def _watchdog(seconds: float) -> None:
    time.sleep(seconds)
    os.killpg(0, signal.SIGKILL)


def _short_repr(value: object, limit: int = 400) -> str:
    try:
        text = repr(value)
    except BaseException as exc:  # a broken __repr__ must not hide the failure
        text = f"<unrepresentable {type(value).__name__}: {exc!r}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _actual_of_failed_assert(exc: AssertionError, source: str, filename: str) -> str | None:
    """For `assert left == right` in the candidate's file, the repr of `left` re-evaluated there."""
    frame = None
    lineno = 0
    for frame_summary, tb_lineno in traceback.walk_tb(exc.__traceback__):
        if frame_summary.f_code.co_filename == filename:
            frame, lineno = frame_summary, tb_lineno
    if frame is None:
        return None
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and node.lineno <= lineno <= (node.end_lineno or node.lineno):
            test = node.test
            if isinstance(test, ast.Compare) and len(test.ops) == 1:
                try:
                    expr = compile(ast.Expression(test.left), filename, "eval")
                    return _short_repr(eval(expr, frame.f_globals, frame.f_locals))
                except BaseException:
                    return None
    return None


def run(source: str, filename: str) -> dict:
    namespace = {"__name__": "__main__", "__builtins__": builtins, "__file__": filename}
    try:
        code = compile(source, filename, "exec")
        exec(code, namespace)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return {"reason": "passed" if status == 0 else "exception", "detail": f"exit status {status}"}
    except AssertionError as exc:
        return {
            "reason": "assertion",
            "detail": _short_repr(str(exc)) if str(exc) else "",
            "actual": _actual_of_failed_assert(exc, source, filename),
            "traceback": _tail(exc),
        }
    except CpuLimitReached as exc:
        return {"reason": "timeout", "detail": str(exc), "traceback": _tail(exc)}
    except MemoryError as exc:
        return {"reason": "memory", "detail": "MemoryError", "traceback": _tail(exc)}
    except OSError as exc:
        reason = "file_size" if exc.errno == errno.EFBIG else "exception"
        return {"reason": reason, "detail": f"{type(exc).__name__}: {exc}", "traceback": _tail(exc)}
    except BaseException as exc:
        return {
            "reason": "exception",
            "detail": f"{type(exc).__name__}: {exc}"[:400],
            "traceback": _tail(exc),
        }
    return {"reason": "passed", "detail": ""}


def _tail(exc: BaseException, lines: int = 12) -> str:
    text = "".join(traceback.format_exception(exc)).splitlines()
    return "\n".join(text[-lines:])[-2000:]


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as fh:
        config = json.load(fh)
    os.remove(sys.argv[1])  # the marker must not be readable by the candidate
    applied = set_limits(config["limits"])
    filename = config["filename"]
    with open(filename, encoding="utf-8") as fh:
        source = fh.read()
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - open for the candidate's whole run
    sys.path.insert(0, os.getcwd())  # -I leaves the script's dir out; files given beside it import
    main_pid = os.getpid()
    report = run(source, filename)
    if os.getpid() != main_pid:  # a process the candidate forked: only the first one reports
        os._exit(0)
    report["limits_applied"] = applied
    marker = config["marker"]
    try:
        sys.stdout.flush()
    except BaseException:
        pass
    os.write(1, f"\n{marker}{json.dumps(report)}{marker}\n".encode())
    os._exit(0 if report["reason"] == "passed" else 1)


if __name__ == "__main__":
    main()
