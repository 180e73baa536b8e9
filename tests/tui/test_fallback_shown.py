"""A step that failed over to another model says so live, and again when the run is reopened from History."""

from __future__ import annotations

from textual.widgets import Input, TextArea

from jarvis.app.tui.history_view import HistoryView, RunDetail
from jarvis.app.tui.run_view import RunView
from tests.tui.helpers import ready, wait_until
from tests.tui.scripted import scripted_app


def screen_text(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def test_a_run_that_fell_back_lists_its_attempts_when_reopened_from_history(isolated_home, monkeypatch):
    app, provider = scripted_app(isolated_home, monkeypatch)
    provider.broken.add("tiny-1b")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        run = app.query_one(RunView)
        run.query_one("#task", TextArea).text = "Say hello."
        run.query_one("#model", Input).value = "local/tiny-1b"
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: run.last_result is not None, 30, "the run to finish")
        [pane] = run.panes.values()
        answered = pane.title.split(" · ")[1].removesuffix(" (fallback)")
        assert pane.title.endswith("(fallback)") and answered != "local/tiny-1b"
        assert "[local/tiny-1b failed: bad_response" in pane.stream.text  # the live fallback line
        await pilot.press("f5")
        history = app.query_one(HistoryView)
        table = history.query_one("#history-table")
        await wait_until(pilot, lambda: table.row_count == 1, 20, "the History row")
        history.open(run.run_id)
        await wait_until(pilot, lambda: isinstance(app.screen, RunDetail), 20, "the run detail")
        tried = ["1. local/tiny-1b (local): failed", f"2. {answered} (local): ok"]
        await wait_until(pilot, lambda: all(t in screen_text(app) for t in tried), 20, "both attempts shown")
        shown = screen_text(app)
        assert "bad_response: the stream was cut" in shown and "characters kept" in shown
