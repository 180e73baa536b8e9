"""What one sandboxed run may use: wall time, CPU, memory, file size, open files, processes."""

from __future__ import annotations

from dataclasses import asdict, dataclass

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Per-run limits. The wall clock is enforced by the parent; the rest by the child itself.

    `processes` bounds the whole tree the candidate may make (the child counts forks and splits the
    budget at each one); RLIMIT_NPROC is set too where it counts only this tree (a fresh user
    namespace, not root), since for root the kernel does not enforce it.
    """

    wall_seconds: float = 10.0
    cpu_seconds: int = 10
    memory_bytes: int = 1024 * MB
    file_bytes: int = 16 * MB
    open_files: int = 64
    processes: int = 16
    output_bytes: int = 4096

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value is None or value <= 0:
                raise ValueError(f"sandbox limit {name} must be a positive number, not {value!r}")

    def for_child(self, *, nproc_enforced: bool) -> dict[str, float | int | bool]:
        """The limits the child's bootstrap sets on itself, as plain JSON."""
        return {
            "wall_seconds": self.wall_seconds,
            "cpu_seconds": self.cpu_seconds,
            "memory_bytes": self.memory_bytes,
            "file_bytes": self.file_bytes,
            "open_files": self.open_files,
            "processes": self.processes,
            "nproc_enforced": nproc_enforced,
        }

    def describe(self) -> str:
        """One line for the user: what the candidate was allowed."""
        return (
            f"{self.wall_seconds:g} s wall, {self.cpu_seconds} s CPU, "
            f"{self.memory_bytes // MB} MB memory, {self.file_bytes // MB} MB per file, "
            f"{self.open_files} open files, "
            f"{self.processes} processes"
        )
