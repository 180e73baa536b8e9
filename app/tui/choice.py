"""Choice: a picker drawn as one field; enter, space, down or a click opens its list.

Textual's Select composes a current-value widget and a hidden OptionList overlay per instance before
the first frame (~35 ms for the Run view's two). A Choice draws one line and builds its list only
when it is opened.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Region
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import OptionList
from textual.widgets.option_list import Option

MENU_ROWS = 10


class Choice(Widget, can_focus=True):
    DEFAULT_CSS = """
    Choice { height: 3; width: 24; border: tall $border-blurred; background: $surface; padding: 0 1;
             pointer: pointer; }
    Choice:focus { border: tall $border; background-tint: $foreground 5%; }
    Choice > .choice--label { color: $text-muted; }
    """
    COMPONENT_CLASSES = {"choice--label"}
    BINDINGS = [Binding("enter,space,down", "open", "Choose", show=False)]

    value: reactive[str] = reactive("", layout=False, init=False)

    class Changed(Message):
        """The value changed (picked from the list or set by code)."""

        def __init__(self, choice: Choice, value: str) -> None:
            super().__init__()
            self.choice = choice
            self.value = value

        @property
        def control(self) -> Choice:
            return self.choice

    def __init__(
        self, options: Iterable[tuple[str, str]], value: str | None = None, *, label: str = "", **kw
    ) -> None:
        """`options` are (shown text, value) pairs; `value` defaults to the first one's."""
        super().__init__(**kw)
        self.label = label
        self.options = list(options)
        self.set_reactive(Choice.value, value if value is not None else self.options[0][1])

    def validate_value(self, value: str) -> str:
        if value not in {v for _, v in self.options}:
            raise ValueError(f"{value!r} is not one of this picker's options")
        return value

    def watch_value(self, value: str) -> None:
        self.post_message(self.Changed(self, value))

    def set_options(self, options: Iterable[tuple[str, str]], value: str | None = None) -> None:
        """Replaces the options and picks `value`; without one, keeps the current value if it is still
        offered, else takes the first."""
        self.options = list(options)
        if value is None:
            values = [v for _, v in self.options]
            value = self.value if self.value in values else values[0]
        self.value = value
        self.refresh()

    @property
    def shown(self) -> str:
        return next((text for text, v in self.options if v == self.value), self.value)

    def render(self) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis")
        if self.label:
            line.append(f"{self.label} ", self.get_component_rich_style("choice--label", partial=True))
        line.append(self.shown)
        line.truncate(max(self.content_size.width - 2, 1), overflow="ellipsis", pad=True)
        line.append(" ▾")
        return line

    def on_click(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        def picked(value: str | None) -> None:
            if value is not None:
                self.value = value
            self.focus()

        self.app.push_screen(ChoiceMenu(self.options, self.value, self.region), picked)


class ChoiceMenu(ModalScreen[str | None]):
    """The open list, just under (or above) its field; esc or a click elsewhere closes it unchanged."""

    DEFAULT_CSS = """
    ChoiceMenu { background: $background 0%; }
    ChoiceMenu > OptionList { border: tall $border; background: $surface; height: auto; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Close", show=False)]

    def __init__(self, options: list[tuple[str, str]], value: str, anchor: Region) -> None:
        super().__init__()
        self.options = options
        self.value = value
        self.anchor = anchor

    def compose(self) -> ComposeResult:
        yield OptionList(*(Option(text, id=value) for text, value in self.options))

    def on_mount(self) -> None:
        menu = self.query_one(OptionList)
        rows = min(len(self.options), MENU_ROWS) + 2  # + the top and bottom border
        below = self.anchor.bottom + rows <= self.size.height
        menu.styles.width = max(self.anchor.width, max(len(text) for text, _ in self.options) + 6)
        menu.styles.max_height = rows
        menu.styles.offset = (self.anchor.x, self.anchor.bottom if below else max(self.anchor.y - rows, 0))
        menu.highlighted = next((i for i, (_, v) in enumerate(self.options) if v == self.value), 0)
        menu.focus()

    @on(OptionList.OptionSelected)
    def picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def on_click(self, event: events.Click) -> None:
        if event.widget is self:  # outside the list
            self.dismiss(None)
