"""The project's own test command, run confined on a copy of the project with the patch applied.

The copy leaves out git's database, virtualenvs and caches. The command runs under the strongest
sandbox tier found (chains.verify.tiers): with bubblewrap only the copy is writable and the
network is gone; the command's own interpreter (a virtualenv's, found on the project's `.venv` or
PATH) is shown read-only so that `pytest` can start. The wall clock is the limit: the whole
process group is killed when it runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import signal
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..verify.tiers import STRENGTH, Interpreter, Tier, TierProbe, wrap
from .review import FileChange

_SKIPPED = shutil.ignore_patterns(
    ".git", ".hg", ".venv", "venv", "env", "node_modules", "__pycache__", ".mypy_cache", ".pytest_cache",
    ".ruff_cache", ".tox", ".nox", "jarvis-output",
)  # fmt: skip
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc")
_TAIL_BYTES = 4000


class CommandNotRunnable(ValueError):
    """The test command cannot be run at all (one sentence: what and what to do)."""


@dataclass(frozen=True)
class ProjectTestResult:
    """How the test command ended on the patched copy."""

    command: str
    passed: bool
    exit_code: int | None
    tier: str
    seconds: float
    output_tail: str
    timed_out: bool = False
    warning: str | None = None

    def summary(self) -> str:
        if self.timed_out:
            how = f"timed out after {self.seconds:.0f} s"
        elif self.passed:
            how = f"passed in {self.seconds:.1f} s"
        else:
            how = f"failed (exit status {self.exit_code}) in {self.seconds:.1f} s"
        return f"`{self.command}` on the patched copy {how} [sandbox {self.tier}]"

    def as_json(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "passed": self.passed,
            "exit_code": self.exit_code,
            "tier": self.tier,
            "seconds": round(self.seconds, 3),
            "output_tail": self.output_tail,
            "timed_out": self.timed_out,
            "warning": self.warning,
        }


def _venv_of(path: Path) -> Path | None:
    """The virtualenv a program lives in (its bin/ folder's parent holds pyvenv.cfg), if any."""
    for parent in path.parents[:3]:
        if (parent / "pyvenv.cfg").is_file():
            return parent
    return None


def resolve_command(command: str, root: Path, env_path: str | None = None) -> list[str]:
    """The command as argv with its program found: the project's .venv/venv first, then the active
    virtualenv, then `env_path` (PATH by default)."""
    try:
        argv = shlex.split(command)
    except ValueError as err:
        raise CommandNotRunnable(f"--test-cmd cannot be read ({err}); quote it as a shell would.") from None
    if not argv:
        raise CommandNotRunnable("--test-cmd is empty; give the command that runs your tests.")
    program = argv[0]
    if "/" in program:
        found = str((root / program).resolve()) if not os.path.isabs(program) else program
        if not os.access(found, os.X_OK):
            raise CommandNotRunnable(f"--test-cmd: {program} is not an executable program.")
        return [found, *argv[1:]]
    active = os.environ.get("VIRTUAL_ENV")
    search = os.pathsep.join(
        [str(root / ".venv" / "bin"), str(root / "venv" / "bin")]
        + ([str(Path(active) / "bin")] if active else [])
        + [env_path if env_path is not None else os.environ.get("PATH", "")]
    )
    located = shutil.which(program, path=search)
    if located is None:
        raise CommandNotRunnable(
            f"--test-cmd: {program} is not installed here (looked in the project's .venv and on PATH)."
        )
    return [located, *argv[1:]]


def _read_only_extras(program: str) -> list[str]:
    """Folders the program needs that bubblewrap does not show: its virtualenv and interpreter."""
    wanted: set[Path] = set()
    exe = Path(program)
    candidates = [exe, exe.resolve()]
    with contextlib.suppress(OSError):
        first = exe.read_bytes()[:256].split(b"\n", 1)[0]
        if first.startswith(b"#!"):  # a console script: its interpreter
            interp = Path(first[2:].decode(errors="replace").strip().split()[0])
            candidates += [interp, interp.resolve()]
    for path in candidates:
        venv = _venv_of(path)
        wanted.add(venv if venv else path.parent.parent if path.parent.name == "bin" else path.parent)
    return sorted(
        str(p)
        for p in wanted
        if p.exists() and not any(str(p) == s or str(p).startswith(s + "/") for s in _SYSTEM)
    )


def _copy_project(root: Path, changes: Sequence[FileChange], dest: Path) -> None:
    shutil.copytree(root, dest, ignore=_SKIPPED, symlinks=True)
    for change in changes:
        target = dest / change.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(change.after_bytes)


async def run_project_tests(
    root: Path,
    changes: Sequence[FileChange],
    command: str,
    *,
    timeout_s: float = 300.0,
    probe: TierProbe | None = None,
    tiers: tuple[Tier, ...] = STRENGTH,
    env_path: str | None = None,
) -> ProjectTestResult:
    """Run `command` in a confined copy of `root` with `changes` written into it; its program is
    looked up as `resolve_command` does. Raises CommandNotRunnable when it cannot be started at all."""
    argv = resolve_command(command, root, env_path)
    interp = Interpreter.current()
    choice = await (probe or TierProbe()).choose(interp, tiers)
    parent = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="jarvis-tests-"))
    copy = parent / "project"
    try:
        await asyncio.to_thread(_copy_project, root, changes, copy)
        prefix, inner = wrap(choice, interp, copy)
        if choice.tier is Tier.BWRAP:
            # Before the work dir's bind and the remount: the mount points must still be creatable.
            extras = [a for p in _read_only_extras(argv[0]) for a in ("--ro-bind", p, p)]
            at = prefix.index("--bind")
            prefix = prefix[:at] + extras + prefix[at:]
        bin_dirs = os.pathsep.join(dict.fromkeys([os.path.dirname(argv[0]), "/usr/bin", "/bin"]))
        env = {
            "PATH": bin_dirs,
            "HOME": inner,
            "TMPDIR": inner,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        return await _run(command, [*prefix, *argv], copy, env, choice.tier, choice.warning, timeout_s)
    finally:
        await asyncio.to_thread(shutil.rmtree, parent, True)


async def _run(
    command: str,
    cmd: list[str],
    cwd: Path,
    env: dict[str, str],
    tier: Tier,
    warning: str | None,
    timeout_s: float,
) -> ProjectTestResult:
    started = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as err:
        raise CommandNotRunnable(f"cannot start {cmd[0]}: {err.strerror or err}.") from None
    chunks = bytearray()

    async def read() -> None:
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(65536):
            chunks.extend(chunk)
            if len(chunks) > 4 * _TAIL_BYTES:
                del chunks[: len(chunks) - 2 * _TAIL_BYTES]

    reader = asyncio.ensure_future(read())
    timed_out = False
    try:
        await asyncio.wait_for(proc.wait(), timeout_s)
    except TimeoutError:
        timed_out = True
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.returncode is None:
            await proc.wait()
    try:
        await asyncio.wait_for(reader, 5)
    except TimeoutError:
        reader.cancel()
    tail = bytes(chunks[-_TAIL_BYTES:]).decode("utf-8", "replace")
    return ProjectTestResult(
        command=command,
        passed=not timed_out and proc.returncode == 0,
        exit_code=proc.returncode,
        tier=tier.value,
        seconds=time.monotonic() - started,
        output_tail=tail,
        timed_out=timed_out,
        warning=warning,
    )
