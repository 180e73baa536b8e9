"""Unified diffs of one file's change, in the form `git apply` and `patch -p1` read."""

from __future__ import annotations

import difflib

_NO_NEWLINE = "\\ No newline at end of file\n"


def unified_diff(path: str, before: str, after: str, *, context: int = 3) -> str:
    """The patch turning `before` into `after` ("" when they are equal), paths as a/PATH and b/PATH."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"a/{path}",
        tofile=f"b/{path}",
        n=context,
    )
    # difflib leaves a last line without its newline as it is; patch tools expect the marker line.
    return "".join(line if line.endswith("\n") else line + "\n" + _NO_NEWLINE for line in lines)


def diff_stats(patch: str) -> tuple[int, int]:
    """Lines added and removed by a patch."""
    added = removed = 0
    for line in patch.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return added, removed
