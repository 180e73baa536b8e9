"""Run model-written Python, confined, and say how it ended.

Each run: a fresh temporary work dir holding the code and a small bootstrap; `python -I` started
there with a minimal environment (no keys, HOME = the work dir), no stdin, in its own session;
the bootstrap sets the resource limits on itself and then runs the code; the parent kills the
whole process group when the wall clock runs out. Everything is asyncio, so an engine's event
loop never waits on a candidate.

    sandbox = Sandbox()
    result = await sandbox.run("print(1 + 1)")
    result.reason, result.stdout, result.tier
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .limits import Limits
from .tiers import STRENGTH, Interpreter, Tier, TierChoice, TierProbe, wrap

# How a run ended.
PASSED, ASSERTION, EXCEPTION, TIMEOUT, MEMORY, FILE_SIZE, KILLED = (
    "passed",
    "assertion",
    "exception",
    "timeout",
    "memory",
    "file_size",
    "killed",
)
_READ_TAIL = 512 * 1024  # what we keep of each stream while reading, before the report is cut out
_BOOTSTRAP = "child_bootstrap.py"


class SandboxUnavailable(RuntimeError):
    """This system cannot run code in the sandbox at all (the message says why, in one sentence)."""


@dataclass(frozen=True)
class SandboxResult:
    """How one run ended. `reason` is one of passed, assertion, exception, timeout, memory,
    file_size, killed; `detail` is a sentence, `actual` the repr of the left side of a failed
    `assert a == b`, `traceback` the last lines of the traceback."""

    reason: str
    tier: Tier
    duration: float
    stdout: str = ""
    stderr: str = ""
    detail: str = ""
    actual: str | None = None
    traceback: str = ""
    exit_code: int | None = None
    limits: Limits = field(default_factory=Limits)
    limits_applied: tuple[str, ...] = ()
    warning: str | None = None
    full_stdout: str = field(default="", repr=False)  # the kept tail before cutting to limits.output_bytes

    @property
    def passed(self) -> bool:
        return self.reason == PASSED

    def summary(self) -> str:
        """One line for the user."""
        what = {
            PASSED: "passed",
            ASSERTION: "assertion failed",
            EXCEPTION: "raised an exception",
            TIMEOUT: "timed out",
            MEMORY: "ran out of memory",
            FILE_SIZE: "wrote too large a file",
            KILLED: "was killed",
        }.get(self.reason, self.reason)
        extra = f" (actual {self.actual})" if self.actual else (f": {self.detail}" if self.detail else "")
        return f"{what}{extra} in {self.duration:.2f} s [{self.tier.value}]"


class _Tail:
    """Keeps the last `size` bytes of a stream."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data = bytearray()

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > 2 * self.size:
            del self.data[: len(self.data) - self.size]

    def text(self) -> str:
        return bytes(self.data[-self.size :]).decode("utf-8", "replace")


async def _drain(stream: asyncio.StreamReader | None, tail: _Tail) -> None:
    if stream is None:
        return
    while chunk := await stream.read(65536):
        tail.add(chunk)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _child_env(home: str) -> dict[str, str]:
    # Nothing from ours: no keys, no proxies, no PYTHON* (ignored under -I anyway).
    return {"PATH": "/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def cut_report(text: str, marker: str) -> tuple[str, dict | None]:
    """The text without the last `marker{json}marker` report in it, and that report (or None)."""
    pattern = re.compile(r"\n?" + re.escape(marker) + r"(.*?)" + re.escape(marker) + r"\n?", re.S)
    found = list(pattern.finditer(text))
    if not found:
        return text, None
    last = found[-1]
    try:
        report = json.loads(last.group(1))
    except ValueError:
        return text, None
    return text[: last.start()] + text[last.end() :], report


def _classify(
    exit_code: int | None, timed_out: bool, report: dict | None, stderr: str, cpu_spent: bool
) -> tuple[str, str]:
    if timed_out:
        return TIMEOUT, "wall clock limit reached"
    if report is not None:
        return str(report.get("reason", EXCEPTION)), str(report.get("detail", ""))
    # A signal shows as a negative status, or as 128 + signal through bwrap and unshare.
    sig = (
        -exit_code
        if exit_code is not None and exit_code < 0
        else (exit_code - 128 if exit_code is not None and 128 < exit_code < 160 else None)
    )
    if sig is not None:
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_spent):
            return TIMEOUT, "CPU time limit reached"
        if sig == signal.SIGXFSZ:
            return FILE_SIZE, "file size limit reached"
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return KILLED, f"killed by signal {name}"
    if "MemoryError" in stderr:
        return MEMORY, "MemoryError"
    if cpu_spent:
        return TIMEOUT, "CPU time limit reached"
    last = stderr.strip().splitlines()[-1:] or [f"exit status {exit_code}"]
    return EXCEPTION, last[0][:400]


class Sandbox:
    """Runs code in the strongest tier available. Holds the tier probe so it runs once per sandbox
    owner; pass `tiers` to restrict (tests use it to run under each tier)."""

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        tiers: tuple[Tier, ...] = STRENGTH,
        probe: TierProbe | None = None,
        interpreter: Interpreter | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self.tiers = tiers
        self._probe = probe or TierProbe()
        self._interp = interpreter or Interpreter.current()

    async def tier(self) -> TierChoice:
        return await self._probe.choose(self._interp, self.tiers)

    async def run(
        self, code: str, *, limits: Limits | None = None, files: dict[str, str] | None = None
    ) -> SandboxResult:
        """Run `code` as a script; `files` (name → text) are written beside it first."""
        if os.name != "posix":
            raise SandboxUnavailable("running generated code needs Linux or macOS, and this is neither")
        limits = limits or self.limits
        choice = await self.tier()
        workdir = Path(tempfile.mkdtemp(prefix="jarvis-run-"))
        try:
            return await self._run_in(workdir, choice, code, limits, files or {})
        finally:
            await asyncio.to_thread(shutil.rmtree, workdir, True)

    async def _run_in(
        self, workdir: Path, choice: TierChoice, code: str, limits: Limits, files: dict[str, str]
    ) -> SandboxResult:
        marker = "@@jarvis-" + secrets.token_hex(8) + "@@"
        config = {
            "limits": limits.for_child(nproc_enforced=choice.nproc_enforced),
            "filename": "candidate.py",
            "marker": marker,
        }
        for name, text in files.items():
            if "/" in name or name.startswith(".") or name in (_BOOTSTRAP, "candidate.py", "config.json"):
                raise ValueError(f"cannot write {name!r} into the sandbox: give a plain file name")
            (workdir / name).write_text(text, encoding="utf-8")
        (workdir / "candidate.py").write_text(code, encoding="utf-8")
        (workdir / "config.json").write_text(json.dumps(config), encoding="utf-8")
        shutil.copyfile(Path(__file__).with_name(_BOOTSTRAP), workdir / _BOOTSTRAP)
        prefix, inner_dir = wrap(choice, self._interp, workdir)
        cmd = [*prefix, self._interp.executable, "-I", _BOOTSTRAP, "config.json"]
        out, err = _Tail(_READ_TAIL), _Tail(_READ_TAIL)
        started = time.monotonic()
        try:
            proc = await asyncio.create_subprocess_exec(
                *cmd,
                cwd=workdir,
                env=_child_env(inner_dir),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise SandboxUnavailable(f"cannot start {cmd[0]} for the sandbox: {why}") from None
        readers = asyncio.gather(_drain(proc.stdout, out), _drain(proc.stderr, err))
        timed_out = False
        try:
            await asyncio.wait_for(proc.wait(), limits.wall_seconds)
        except TimeoutError:
            timed_out = True
        except asyncio.CancelledError:
            readers.cancel()  # the caller gave up: the group is killed below, nothing is reported
            raise
        finally:
            # Also after a normal exit: whatever the code left running goes with the group.
            _kill_group(proc.pid)
            if proc.returncode is None:
                await proc.wait()
        duration = time.monotonic() - started
        try:
            await asyncio.wait_for(readers, 5)
        except TimeoutError:
            readers.cancel()  # an escaped grandchild still holds the pipe: we have what we need
        stdout, report = cut_report(out.text(), marker)
        stderr = err.text()
        # No report and at least the CPU limit in wall time: the kernel stopped a CPU hog.
        cpu_spent = report is None and duration >= limits.cpu_seconds
        reason, detail = _classify(proc.returncode, timed_out, report, stderr, cpu_spent)
        report = report or {}
        return SandboxResult(
            reason=reason,
            tier=choice.tier,
            duration=duration,
            stdout=stdout[-limits.output_bytes :],
            stderr=stderr[-limits.output_bytes :],
            detail=detail,
            actual=report.get("actual"),
            traceback=str(report.get("traceback", "")),
            exit_code=proc.returncode,
            limits=limits,
            limits_applied=tuple(report.get("limits_applied", ())),
            warning=choice.warning,
            full_stdout=stdout,
        )
