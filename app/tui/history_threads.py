"""History's threads: turns grouped under their first run, and regenerate / fork of a chosen turn."""

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


async def thread_action(app, action: str, run_id: str) -> None:
    """From a run opened in History: run that turn again ("regenerate") beside the original, or start
    a new thread from it ("fork") in the Run view, whose box takes the new thread's first task."""
    from jarvis.chains import threads

    from .choice import Choice
    from .run_view import RunView

    try:
        if action == "regenerate":
            turn, again = await threads.regenerate_run(app.engine.ledger, run_id)
        else:
            follow = await threads.fork_run(app.engine.ledger, run_id)
    except threads.ThreadError as err:
        app.notify(str(err), severity="warning", timeout=8)
        return
    if action == "regenerate" and turn.kind != "chain":
        app.notify(f"{run_id} is a comparison: run it again from Compare (F3).", severity="warning")
        return
    await app.action_show_tab("run")
    view = app.query_one(RunView)
    if action == "fork":
        await view.offer_fork(follow, run_id)
        return
    chain = turn.options.get("chain") or turn.chain
    if chain:
        try:
            view.query_one("#chain", Choice).value = chain
        except ValueError:
            app.notify(f"The chain {chain!r} no longer exists; using the one selected.", severity="warning")
    view.start(turn.task, follow_up=again)
