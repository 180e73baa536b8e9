"""LiveText: word-wrapped text that grows at token rate without re-laying-out the screen.

A ScrollView with a line API: an append rewraps only the last paragraph and updates the
virtual size; only visible rows are rendered. (A growing Static re-measures, and makes the
screen reflow, on every update: that stalled four streaming panes at 2,000 tokens/s.)
Setting `virtual_size` asks Textual for a layout pass of the whole screen, so that is done only
while the widget's own height still follows its content; past that, growth is a repaint.
"""

from __future__ import annotations

import textwrap

from rich.cells import cell_len
from rich.segment import Segment
from textual.css.scalar import ScalarResolveError
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget


def wrap(line: str, width: int) -> list[str]:
    if len(line) <= width:
        return [line]
    return textwrap.wrap(
        line,
        width,
        replace_whitespace=False,
        drop_whitespace=True,
        break_long_words=True,
        break_on_hyphens=False,
    ) or [""]


class LiveText(ScrollView, can_focus=False):
    DEFAULT_CSS = """
    LiveText { height: auto; overflow-x: hidden; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._logical: list[str] = [""]
        self._rows: list[str] = []
        self._row_start: list[int] = []
        self._width = 0
        self._style = None

    @property
    def text(self) -> str:
        return "\n".join(self._logical)

    def _wrap_width(self) -> int:
        return max(self.scrollable_content_region.width, 10)

    def _rewrap_from(self, index: int) -> None:
        del self._rows[self._row_start[index] if index < len(self._row_start) else len(self._rows) :]
        del self._row_start[index:]
        for line in self._logical[index:]:
            self._row_start.append(len(self._rows))
            self._rows.extend(wrap(line, self._width))

    def append(self, text: str) -> None:
        if not text:
            return
        at_end = self.is_vertical_scroll_end
        first_changed = len(self._logical) - 1
        parts = text.split("\n")
        self._logical[-1] += parts[0]
        self._logical.extend(parts[1:])
        if not self._width:
            self._width = self._wrap_width()
        before = len(self._rows)
        self._rewrap_from(first_changed)
        relayout = self._grow(before)
        if at_end and (relayout or self.max_scroll_y > self.scroll_y):
            # Scrolling repaints every visible row; doing it now (not after the next refresh) makes
            # that one repaint instead of two. After a layout pass the height is only known later.
            self.scroll_end(animate=False, immediate=not relayout, x_axis=False)
        else:
            changed_from = self._row_start[first_changed] if first_changed < len(self._row_start) else before
            changed = max(len(self._rows) - changed_from, 1)
            self.refresh_lines(changed_from - int(self.scroll_offset.y), changed)

    def _height_cap(self) -> float:
        """How tall content can make this widget: 0 when its height is set (1fr, cells), else max-height."""
        height, cap = self.styles.height, self.styles.max_height
        if height is not None and not height.is_auto:
            return 0
        if cap is None:
            return float("inf")
        try:
            return float(cap.resolve(self.container_size, self.app.size))
        except ScalarResolveError:  # a unit that needs a layout to resolve: let Textual decide
            return float("inf")

    def _grow(self, rows_before: int) -> bool:
        """Set the virtual size; True when that needed a layout pass (the widget gets taller)."""
        size = Size(self._width, len(self._rows))
        cap = self._height_cap()
        if min(rows_before, cap) != min(len(self._rows), cap):
            self.virtual_size = size
            return True
        self.set_reactive(Widget.virtual_size, size)
        self._scroll_update(size)  # scrollbar length, as Textual does after a layout
        return False

    def render_lines(self, crop):
        self._style = self.rich_style  # walks the ancestors: once per repaint, not once per row
        return super().render_lines(crop)

    def _set_width(self, width: int) -> bool:
        """Rewrap everything for a new width; False when the width is unchanged."""
        if width == self._width or width <= 0:
            return False
        self._width = width
        self._rewrap_from(0)
        return True

    def on_resize(self) -> None:
        if self._set_width(self._wrap_width()):
            self.virtual_size = Size(self._width, len(self._rows))
            self.refresh()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        self._set_width(width)
        return max(len(self._rows), 1)

    def render_line(self, y: int) -> Strip:
        row = y + int(self.scroll_offset.y)
        style = self._style if self._style is not None else self.rich_style
        width = self.size.width
        if row >= len(self._rows):
            return Strip.blank(width, style)
        text = self._rows[row]
        cells = cell_len(text)
        return Strip([Segment(text + " " * max(width - cells, 0), style)], max(cells, width))
