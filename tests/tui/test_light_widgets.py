"""The one-line widgets that replace Select, TabbedContent and Footer: keyboard, mouse, messages."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Input, OptionList, Static, TextArea

from jarvis.app.tui.choice import Choice, ChoiceMenu
from jarvis.app.tui.help_screen import HelpScreen
from jarvis.app.tui.key_line import KeyLine
from jarvis.app.tui.run_view import RunView
from jarvis.app.tui.tab_line import TabLine
from tests.tui.helpers import click, make_app, ready, wait_until

COLOURS = [("Red", "red"), ("Green", "green"), ("Blue", "blue")]


class Host(App[None]):
    def __init__(self, bottom: bool = False) -> None:
        super().__init__()
        self.bottom = bottom
        self.changes: list[str] = []

    def compose(self) -> ComposeResult:
        if self.bottom:  # push the picker to the last rows: its list must open above it
            filler = Static()
            filler.styles.height = "1fr"
            yield filler
        yield Choice(COLOURS, "green", label="colour", id="colour")
        yield Input(id="after")

    def on_choice_changed(self, event: Choice.Changed) -> None:
        self.changes.append(event.value)


def column_of(widget, text: str) -> int:
    """Where `text` starts in what the widget draws (for clicking it)."""
    return widget.render().plain.index(text)


async def test_choice_picks_with_the_keyboard_and_says_so():
    app = Host()
    async with app.run_test(size=(60, 20)) as pilot:
        choice = app.query_one(Choice)
        choice.focus()
        assert "colour Green" in choice.render().plain and app.changes == []
        await pilot.press("enter")
        assert isinstance(app.screen, ChoiceMenu)
        assert app.screen.query_one(OptionList).highlighted == 1  # opens on the current value
        await pilot.press("down", "enter")
        await pilot.pause()
        assert choice.value == "blue" and app.changes == ["blue"]
        assert app.focused is choice  # back where the user was
        await pilot.press("space", "escape")
        await pilot.pause()
        assert choice.value == "blue" and app.changes == ["blue"]  # esc changes nothing


async def test_choice_opens_on_click_below_it_and_a_click_elsewhere_closes_it():
    app = Host()
    async with app.run_test(size=(60, 20)) as pilot:
        choice = app.query_one(Choice)
        await click(pilot, Choice)
        menu = app.screen.query_one(OptionList)
        assert menu.region.y == choice.region.bottom
        await pilot.click(offset=(55, 18))
        await pilot.pause()
        assert not isinstance(app.screen, ChoiceMenu) and choice.value == "green"
        await click(pilot, Choice)
        await click(pilot, OptionList, offset=(2, 1))  # the first option, under the top border
        await pilot.pause()
        assert choice.value == "red" and app.changes == ["red"]


async def test_choice_near_the_bottom_opens_its_list_above():
    app = Host(bottom=True)
    async with app.run_test(size=(60, 20)) as pilot:
        choice = app.query_one(Choice)
        await click(pilot, Choice)
        menu = app.screen.query_one(OptionList)
        assert menu.region.bottom <= choice.region.y


async def test_choice_options_can_change_and_a_value_must_be_offered():
    app = Host()
    async with app.run_test(size=(60, 20)) as pilot:
        choice = app.query_one(Choice)
        with pytest.raises(ValueError):
            choice.value = "purple"
        choice.set_options([("Blue", "blue"), ("Green", "green")])
        assert choice.value == "green"  # still offered: kept
        choice.set_options([("Cyan", "cyan"), ("Blue", "blue")])
        assert choice.value == "cyan"  # gone: the first
        choice.set_options(COLOURS, "red")
        await pilot.pause()
        assert choice.value == "red" and app.changes == ["cyan", "red"]


async def test_tab_line_and_key_line_switch_views_with_mouse_and_keys(isolated_home):
    app = make_app(isolated_home)
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot, app)
        tabs = app.query_one(TabLine)
        await click(pilot, TabLine, offset=(column_of(tabs, "Models F4") + 1, 0))
        await wait_until(pilot, lambda: app.current_tab == "models", 30, "the Models view")
        assert tabs.active == "models" and app.view("models").display
        # F6 is the task box's "select line": the view keys must win while typing there.
        await pilot.press("f2")
        assert app.focused is app.query_one(RunView).query_one("#task", TextArea)
        await pilot.press("f6")
        await wait_until(pilot, lambda: app.current_tab == "stats", 30, "the Stats view")
        keys = app.query_one(KeyLine)
        shown = [description for _, _, description in keys.keys()]  # noqa: SIM118 (KeyLine.keys, not a dict)
        assert shown[:6] == ["Help", "Run", "Compare", "Models", "History", "Stats"]
        assert shown[-2:] == ["Quit", "Commands"]
        await click(pilot, KeyLine, offset=(column_of(keys, "Help"), 0))
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), 30, "the help screen")
