"""History's rows with each thread's turns together: what `jarvis history` and the History view show."""

from __future__ import annotations

from typing import Any


def thread_order(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
    """History rows (newest first) with each thread's turns together, in turn order, under the thread's
    newest activity; each with the mark its task cell starts with ("" for a thread's first run)."""
    threads: dict[str, list[dict[str, Any]]] = {}
    for row in rows:  # dicts keep insertion order: the thread with the newest run comes first
        threads.setdefault(row.get("thread_id") or row["id"], []).append(row)
    out: list[tuple[dict[str, Any], str]] = []
    for thread_id, turns in threads.items():
        seen: set[int] = set()
        for row in sorted(turns, key=lambda r: (r.get("turn") or 1, r["started_at"])):
            turn = row.get("turn") or 1
            if row["id"] == thread_id and row.get("parent_run_id"):
                mark = f"⑂ from {row['parent_run_id']} · "  # a fork: a thread that starts from another's turn
            elif turn in seen:
                mark = f"  ⟳ {turn} · "  # the same turn again (regenerated)
            elif turn > 1:
                mark = f"  ↳ {turn} · "
            else:
                mark = ""
            seen.add(turn)
            out.append((row, mark))
    return out
