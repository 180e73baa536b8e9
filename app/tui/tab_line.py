"""TabLine: the views' names on one row; a click or the view's F-key switches to it.

Textual's TabbedContent builds a Tab widget per view, an animated underline and a pane per view
before the first frame; that was ~90 ms of our start-up. This is one widget drawing one row.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget


class TabLine(Widget):
    DEFAULT_CSS = """
    TabLine { height: 1; width: 1fr; background: $panel; }
    TabLine > .tab-line--active { background: $primary; color: $text; text-style: bold; }
    TabLine > .tab-line--inactive { color: $text-muted; }
    """
    COMPONENT_CLASSES = {"tab-line--active", "tab-line--inactive"}

    active: reactive[str] = reactive("", layout=False)

    class Chosen(Message):
        """A view's name was clicked."""

        def __init__(self, tab: str) -> None:
            super().__init__()
            self.tab = tab

    def __init__(self, tabs: tuple[tuple[str, str], ...], active: str, **kw) -> None:
        """`tabs` are (id, label) pairs in display order."""
        super().__init__(**kw)
        self.tabs = tabs
        self.set_reactive(TabLine.active, active)

    def render(self) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis")
        for tab, label in self.tabs:
            style = self.get_component_rich_style(
                "tab-line--active" if tab == self.active else "tab-line--inactive", partial=True
            )
            line.append(f" {label} ", style + Style(meta={"@click": f"choose({tab!r})"}))
            line.append(" ")
        return line

    def action_choose(self, tab: str) -> None:
        self.post_message(self.Chosen(tab))
