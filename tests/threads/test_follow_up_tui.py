"""Pilot flows: the follow-up box under a Run view answer, regenerate and fork from History, and a
comparison's follow-up (every model continues its own thread)."""

from __future__ import annotations

import json

from textual.widgets import Input

from jarvis.app.tui.follow_up_box import EarlierTurn, FollowUpBox, TurnHeading
from jarvis.app.tui.run_view import RunView
from tests.context.test_tui_helpers import heard_prompts
from tests.tui.helpers import ready, told_by, wait_until
from tests.tui.scripted import scripted_app


async def test_follow_up_box_continues_the_run_below_the_answer(isolated_home, monkeypatch):
    app, provider = scripted_app(isolated_home, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        calls = heard_prompts(provider)
        view = app.query_one(RunView)
        await pilot.press(*"Reverse a string.", "ctrl+r")
        await wait_until(pilot, lambda: bool(view.query("#follow-up-text")), 30, "the follow-up box")
        first_run, first_answer = view.run_id, view.last_result["answer"]
        box = view.query_one(FollowUpBox)
        assert app.focused is box.query_one(Input), "the box takes the keys once the answer is in"
        await pilot.press(*"Now in place.", "enter")
        turn_two = lambda: view.run_id != first_run and bool(view.query(FollowUpBox))  # noqa: E731
        await wait_until(pilot, turn_two, 30, "turn 2")
        # The model saw the first task and its answer as a conversation, then the follow-up.
        sent = calls[-1]
        assert [r for r, _ in sent[-3:]] == ["user", "assistant", "user"]
        assert sent[-3][1] == "Reverse a string." and sent[-1][1] == "Now in place."
        assert sent[-2][1] == first_answer
        # The earlier turn stays on screen above the new one, which is turn 2 of the same thread.
        [earlier] = view.query(EarlierTurn)
        assert "Reverse a string." in str(earlier.render())
        assert "Turn 2 (follow-up): Now in place." in str(view.query_one(TurnHeading).render())
        turns = await app.engine.ledger.thread_turns(first_run)
        assert [(t.run_id, t.turn) for t in turns] == [(first_run, 1), (view.run_id, 2)]
        assert view.query_one("#task").text == "Reverse a string."  # the task box keeps the first task


async def test_an_empty_follow_up_is_refused_and_the_box_stays(isolated_home, monkeypatch):
    app, _ = scripted_app(isolated_home, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        view = app.query_one(RunView)
        await pilot.press(*"Say hi.", "ctrl+r")
        await wait_until(pilot, lambda: bool(view.query("#follow-up-text")), 30, "the follow-up box")
        view.query_one(FollowUpBox).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Type a follow-up first." in told_by(app), 10, "the refusal")
        assert not view.query_one("#follow-up-text", Input).disabled


async def test_compare_follow_up_goes_to_every_model_on_its_own_thread(isolated_home, monkeypatch):
    from jarvis.app.tui.compare_view import CompareView
    from tests.tui.scripted import ANSWERS

    app, provider = scripted_app(isolated_home, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        calls = heard_prompts(provider)
        await pilot.press("f3")
        view = app.query_one(CompareView)
        view.start("List the first ten squares.", ["local/coder-7b", "local/writer-3b"])
        await wait_until(pilot, lambda: bool(view.query("#follow-up-text")), 30, "the follow-up box")
        first = view.compare_id
        view.query_one(FollowUpBox).focus()
        await pilot.press(*"Shorter, please.", "enter")
        turn_two = lambda: view.compare_id != first and bool(view.query(FollowUpBox))  # noqa: E731
        await wait_until(pilot, turn_two, 30, "the second turn")
        # Each model saw its own first answer, not the other's.
        follow_ups = [c for c in calls if c[-1] == ("user", "Shorter, please.")]
        assert sorted(c[1][1] for c in follow_ups) == sorted([ANSWERS["coder-7b"], ANSWERS["writer-3b"]])
        assert all(c[0] == ("user", "List the first ten squares.") for c in follow_ups)
        assert len(view.panes) == 2 and view.query("#votes Button")  # side by side, votable as before
        turns = await app.engine.ledger.thread_turns(first)
        assert [(t.run_id, t.turn) for t in turns] == [(first, 1), (view.compare_id, 2)]


async def test_history_groups_turns_and_regenerates_and_forks_a_turn(isolated_home, monkeypatch, tmp_path):
    from textual.widgets import DataTable

    from jarvis.app.tui.history_view import HistoryView, RunDetail
    from tests.tui.helpers import click

    monkeypatch.chdir(tmp_path)  # History exports into ./jarvis-output
    app, _ = scripted_app(isolated_home, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        run = app.query_one(RunView)
        await pilot.press(*"Reverse a string.", "ctrl+r")
        await wait_until(pilot, lambda: bool(run.query(FollowUpBox)), 30, "the first answer")
        first = run.run_id
        run.query_one(FollowUpBox).focus()
        await pilot.press(*"Now in place.", "enter")
        await wait_until(pilot, lambda: run.run_id != first and bool(run.query(FollowUpBox)), 30, "turn 2")
        second = run.run_id

        await pilot.press("f5")
        history = app.query_one(HistoryView)
        table = history.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count == 2, 20, "both turns listed")
        ids = [table.get_row_at(i)[0] for i in range(2)]
        tasks = [table.get_row_at(i)[-1] for i in range(2)]
        assert ids == [first, second] and tasks == ["Reverse a string.", "  ↳ 2 · Now in place."]

        history.open(second)
        await wait_until(pilot, lambda: isinstance(app.screen, RunDetail), 20, "the run opened")
        await click(pilot, "#regenerate")
        await wait_until(pilot, lambda: run.run_id not in (first, second) and not run.running, 30, "regen")
        await wait_until(pilot, lambda: bool(run.query(FollowUpBox)), 30, "the regenerated answer")
        regen = run.run_id
        turns = await app.engine.ledger.thread_turns(first)
        assert [(t.run_id, t.turn) for t in turns] == [(first, 1), (second, 2), (regen, 2)]

        # Exported from History, a turn carries its whole thread.
        await pilot.press("f5")
        history.open(second)
        await wait_until(pilot, lambda: isinstance(app.screen, RunDetail), 20, "the turn opened again")
        await click(pilot, "#export-json")
        exported = tmp_path / "jarvis-output" / f"{second}.json"
        await wait_until(pilot, exported.exists, 20, "the export")
        doc = json.loads(exported.read_text())
        assert [t["run_id"] for t in doc["thread"]["turns"]] == [first, second, regen]

        await pilot.press("f5")
        history.open(first)
        await wait_until(pilot, lambda: isinstance(app.screen, RunDetail), 20, "the first turn opened")
        await click(pilot, "#fork")
        await wait_until(pilot, lambda: bool(run.query(FollowUpBox)) and run.query_one(FollowUpBox).fork, 20)
        await pilot.press(*"In Rust.", "enter")
        await wait_until(pilot, lambda: run.run_id != regen and bool(run.query(FollowUpBox)), 30, "the fork")
        fork = run.run_id
        assert [t.run_id for t in await app.engine.ledger.lineage(fork)] == [first, fork]
        assert (await app.engine.ledger.thread_turn(fork)).thread_id == fork
        assert len(await app.engine.ledger.thread_turns(first)) == 3  # the original thread is intact
