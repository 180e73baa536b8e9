"""A run exported with its whole thread: every turn (regenerations and a fork's earlier turns too)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from .export import run_as_json, run_as_markdown

if TYPE_CHECKING:
    from jarvis.chains.ledger import Ledger
    from jarvis.chains.thread_turn import ThreadTurn


def export_text(ledger: Ledger, run: dict[str, Any], as_json: bool) -> str:
    """What `jarvis export` prints and History saves: the run alone, or its thread when it has more turns.
    A function of the ledger (the workbench calls it on the ledger's thread)."""
    from jarvis.chains.threads import ThreadError, thread_of
    from jarvis.chains.verify.store import verification_of

    try:
        view = thread_of(ledger, run["id"])
    except ThreadError:
        view = None
    if view is None or len(view.runs) < 2:
        return json.dumps(run_as_json(run), indent=2) if as_json else run_as_markdown(run)
    runs = []
    for turn in view.runs:
        full = run if turn.run_id == run["id"] else ledger.run(turn.run_id)
        if full is not None:
            full.setdefault("verification", verification_of(ledger, turn.run_id))
            runs.append((turn, full))
    if as_json:
        doc = run_as_json(run)
        doc["thread"] = {
            "thread_id": view.thread_id,
            "forked_from": [t.run_id for t in view.forked_from],
            "turns": [{**_place(t), **run_as_json(r)} for t, r in runs],
        }
        return json.dumps(doc, indent=2)
    return thread_as_markdown(view.thread_id, runs, run["id"], {t.run_id for t in view.forked_from})


def _place(turn: ThreadTurn) -> dict[str, Any]:
    return {"turn": turn.turn, "parent_run_id": turn.parent_run_id, "thread_id": turn.thread_id}


def thread_as_markdown(
    thread_id: str, runs: list[tuple[ThreadTurn, dict[str, Any]]], chosen: str, inherited: set[str]
) -> str:
    """Each turn's Markdown two heading levels down, under a heading naming its turn."""
    lines = [f"# Thread {thread_id}", "", f"{len(runs)} turn(s); exported from {chosen}.", ""]
    seen: set[int] = set()
    for turn, run in runs:
        again = turn.turn in seen and turn.run_id not in inherited
        seen.add(turn.turn)
        how = " (before the fork)" if turn.run_id in inherited else " (regenerated)" if again else ""
        mark = " ← exported" if turn.run_id == chosen else ""
        lines += [f"## Turn {turn.turn}{how}: {turn.run_id}{mark}", ""]
        lines += demoted(run_as_markdown(run), "##")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def demoted(markdown: str, by: str) -> list[str]:
    """The lines with every heading `by` deeper (the run's "# Chain" under "## Turn"), except in fenced
    code, where a line starting with "#" is a comment or a shebang and must stay as written."""
    out: list[str] = []
    fence: str | None = None
    for line in markdown.splitlines():
        m = _FENCE.match(line)
        mark = m.group(1) if m else ""
        if fence is None and mark:
            fence = mark
        elif fence is not None and mark[:1] == fence[0] and len(mark) >= len(fence):
            if not line.strip()[len(mark) :].strip():  # a closing fence has nothing after its marks
                fence = None
        elif fence is None and line.startswith("#"):
            line = by + line
        out.append(line)
    return out
