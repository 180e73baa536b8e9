"""Writing a reviewed change to the user's files, with a backup first, and putting them back.

Every file is checked again just before writing (its sha256 must still be the one the diff was
made from), backed up into the data dir, then replaced atomically (a temp file beside it, then
os.replace), so a crash leaves either the old file or the new one, never half of each. If one
file of several cannot be written, the ones already written are restored.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .review import EditReview, FileChange, sha256_of


class ApplyRefused(Exception):
    """Nothing was written; the message is one sentence saying why and what to do."""


@dataclass(frozen=True)
class AppliedFile:
    """One file written by an apply, and where its old content is kept."""

    path: str
    sha256_before: str
    sha256_after: str
    backup: str


@dataclass(frozen=True)
class UndoOutcome:
    path: str
    restored: bool
    reason: str = ""


def atomic_write(target: Path, data: bytes) -> None:
    """Replace `target` with `data` in one step, keeping its permission bits."""
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".jarvis-tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _backup_name(index: int, path: str) -> str:
    return f"{index:03d}-" + path.replace("/", "__").replace("\\", "__")


def apply_review(review: EditReview, backup_dir: Path) -> list[AppliedFile]:
    """Write every change of `review`; raises ApplyRefused (nothing written) when any file changed
    since the review or cannot be backed up."""
    if not review.changes:
        raise ApplyRefused("the answer has no edit that can be applied (see the refused edits above).")
    targets: list[tuple[FileChange, Path, bytes]] = []
    for change in review.changes:
        target = (review.root / change.path).resolve()
        try:
            current = target.read_bytes()
        except OSError as err:
            raise ApplyRefused(
                f"{change.path} cannot be read ({err.strerror or err}); nothing was applied."
            ) from None
        if sha256_of(current) != change.sha256_before:
            raise ApplyRefused(
                f"{change.path} changed after the diff was made; nothing was applied: review it again."
            )
        targets.append((change, target, current))
    try:
        backup_dir.mkdir(parents=True, exist_ok=True)
        backups = []
        for i, (change, _, current) in enumerate(targets, 1):
            backup = backup_dir / _backup_name(i, change.path)
            backup.write_bytes(current)
            backups.append(backup)
    except OSError as err:
        raise ApplyRefused(
            f"cannot keep a backup in {backup_dir} ({err.strerror or err}); nothing was applied."
        ) from None
    written: list[tuple[Path, bytes]] = []
    applied: list[AppliedFile] = []
    for (change, target, current), backup in zip(targets, backups, strict=True):
        try:
            atomic_write(target, change.after_bytes)
        except OSError as err:
            for done, old in reversed(written):
                atomic_write(done, old)
            raise ApplyRefused(
                f"cannot write {change.path} ({err.strerror or err}); the files already written were"
                " restored."
            ) from None
        written.append((target, current))
        applied.append(AppliedFile(change.path, change.sha256_before, change.sha256_after, str(backup)))
    return applied


def undo_files(root: Path, files: Sequence[AppliedFile], *, force: bool = False) -> list[UndoOutcome]:
    """Put each applied file back from its backup. A file changed since the apply is left alone
    unless `force` (the change would be lost)."""
    outcomes = []
    for f in files:
        target = (root / f.path).resolve()
        backup = Path(f.backup)
        try:
            old = backup.read_bytes()
        except OSError:
            outcomes.append(UndoOutcome(f.path, False, f"its backup {backup} is gone; restore it from git"))
            continue
        try:
            current = target.read_bytes() if target.exists() else None
        except OSError as err:
            outcomes.append(UndoOutcome(f.path, False, f"it cannot be read ({err.strerror or err})"))
            continue
        if current is not None and sha256_of(current) != f.sha256_after and not force:
            outcomes.append(
                UndoOutcome(
                    f.path,
                    False,
                    "it changed after the apply; undoing would lose that change (pass --force to"
                    " undo anyway)",
                )
            )
            continue
        try:
            atomic_write(target, old)
        except OSError as err:
            outcomes.append(UndoOutcome(f.path, False, f"it cannot be written ({err.strerror or err})"))
            continue
        outcomes.append(UndoOutcome(f.path, True))
    return outcomes
