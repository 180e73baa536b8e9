"""The workbench driven by keys alone: every pick a mouse can make, tab and space make too."""

from __future__ import annotations

from textual.widgets import Checkbox, Input

from jarvis.app.tui.compare_view import CompareView
from jarvis.app.tui.pick_list import PickList
from jarvis.app.tui.run_view import RunView
from tests.tui.helpers import ready, told_by, wait_until
from tests.tui.scripted import scripted_app


async def test_compare_picks_two_models_with_tab_space_down_space(isolated_home, monkeypatch):
    app, _ = scripted_app(isolated_home, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot, app)
        await pilot.press("f3")
        view = app.query_one(CompareView)
        picker = view.query_one("#cmp-models", PickList)
        prompt = view.query_one("#prompt", Input)
        await wait_until(pilot, lambda: app.focused is prompt, 20, "the prompt's focus")
        assert picker.option_count == 4 and picker.highlighted is None  # filled after discovery
        await pilot.press(*"Say hi.", "tab")
        assert app.focused is picker and picker.highlighted == 0, "a focused list shows where space acts"
        await pilot.press("space", "down", "space", "ctrl+r")
        await wait_until(pilot, lambda: len(view.panes) == 2, 20, "two answer panes")
        offered = [picker.get_option_at_index(i).value for i in range(2)]
        assert picker.selected == offered
        assert not any("Pick 2 to 4" in message for message in told_by(app))


async def test_refreshing_the_models_keeps_the_picks_and_the_highlight(isolated_home, monkeypatch):
    app, _ = scripted_app(isolated_home, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot, app)
        await pilot.press("f3")
        view = app.query_one(CompareView)
        picker = view.query_one("#cmp-models", PickList)
        picker.focus()
        await pilot.press("down", "space")
        [picked] = picker.selected
        app.refresh_models()
        await wait_until(pilot, lambda: any("model(s) found" in m for m in told_by(app)), 20, "the refresh")
        assert picker.selected == [picked] and picker.highlighted == 0


async def test_a_failing_run_says_so_instead_of_ending_silently(isolated_home, monkeypatch):
    app, _ = scripted_app(isolated_home, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot, app)

        async def broken(*args, **kwargs):
            raise RuntimeError("the engine broke")
            yield

        app.engine.orchestrator.run = broken  # this app's engine only: no module is patched
        await pilot.press(*"hi", "ctrl+r")
        await wait_until(pilot, lambda: any("the engine broke" in m for m in told_by(app)), 20, "the failure")
        assert "run a chain failed: the engine broke" in told_by(app)


async def tab_to(pilot, widget, most: int = 12) -> None:
    """Press tab until `widget` has the focus (a keyboard user's way there)."""
    for _ in range(most):
        if pilot.app.focused is widget:
            return
        await pilot.press("tab")
    assert pilot.app.focused is widget, f"{most} tabs never reached {widget}"


async def test_run_switches_are_reached_by_tab_and_reach_the_run(isolated_home, monkeypatch):
    app, provider = scripted_app(isolated_home, monkeypatch)
    provider.broken.add("tiny-1b")
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot, app)
        run = app.query_one(RunView)
        asked = []
        engine_run = app.engine.orchestrator.run

        def heard(task, options, cancel):  # this app's engine only: what the view asked for
            asked.append(options)
            return engine_run(task, options, cancel)

        app.engine.orchestrator.run = heard
        await pilot.press(*"Say hello.")
        no_fallback, no_cache = run.query_one("#no-fallback", Checkbox), run.query_one("#no-cache", Checkbox)
        await tab_to(pilot, no_fallback)
        await pilot.press("space", "ctrl+r")  # no model named: nothing to pin
        assert no_fallback.value and any("needs a model in the override" in m for m in told_by(app))
        assert not run.running and asked == []
        run.query_one("#model", Input).value = "local/tiny-1b"
        await tab_to(pilot, no_cache)
        await pilot.press("space", "ctrl+r")
        await wait_until(pilot, lambda: asked and not run.running, 30, "the run to end")
        assert (asked[0].model, asked[0].no_fallback, asked[0].use_cache) == ("local/tiny-1b", True, False)
        [pane] = run.panes.values()  # the broken model failed, and no other answered in its place
        assert pane.status == "failed" and "fallback" not in pane.title and run.last_result is None
