"""History's threads: turns grouped under their first run, and regenerate / fork of a chosen turn."""

from __future__ import annotations

from ..thread_rows import thread_order

__all__ = ["thread_action", "thread_order"]


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
