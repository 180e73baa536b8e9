"""Line: a one-row text widget whose updates repaint it without re-laying-out the screen."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget


class Line(Widget):
    """Static.update() asks for a layout pass of the whole screen; a fixed-height line only needs a
    repaint."""

    DEFAULT_CSS = """
    Line { height: 1; width: 1fr; }
    """

    def __init__(self, text: str = "", **kw) -> None:
        super().__init__(**kw)
        self._text = text

    @property
    def text(self) -> str:
        return self._text

    def set(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self.refresh()

    def render(self) -> Text:
        return Text(self._text, no_wrap=True, overflow="ellipsis")
