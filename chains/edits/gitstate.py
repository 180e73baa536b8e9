"""Whether the user's files have uncommitted changes in git (an edit over them could lose work)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path


def uncommitted(root: Path, rel_paths: Iterable[str]) -> set[str] | None:
    """Those of `rel_paths` (relative to `root`) with uncommitted changes, staged or not; None when
    `root` is not in a git work tree or git is not installed (then there is nothing to compare with)."""
    git = shutil.which("git")
    paths = sorted(set(rel_paths))
    if git is None or not paths:
        return None
    try:
        inside = subprocess.run(
            [git, "-C", str(root), "rev-parse", "--is-inside-work-tree"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            return None
        status = subprocess.run(
            [git, "-C", str(root), "status", "--porcelain", "-z", "--untracked-files=no", "--", *paths],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if status.returncode != 0:
        return None
    # `git status` names paths from the top of the work tree; ask for them relative to root instead.
    top = subprocess.run(
        [git, "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True, text=True, timeout=10
    ).stdout.strip()
    dirty: set[str] = set()
    for entry in filter(None, status.stdout.split("\0")):
        name = entry[3:]
        absolute = (Path(top) / name).resolve()
        for rel in paths:
            if (root / rel).resolve() == absolute:
                dirty.add(rel)
    return dirty
