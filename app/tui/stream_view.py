"""StreamView: shows a high-rate token stream without stalling the UI.

Deltas are buffered and flushed on a timer; while live, text is plain and split into
frozen blocks (only the tail re-renders); once the stream ends it becomes Markdown.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Markdown, Static

#: A tail longer than this is frozen at its last newline, so one flush never re-renders everything.
FREEZE_AT = 1200


class StreamView(Vertical):
    DEFAULT_CSS = """
    StreamView { height: auto; }
    StreamView > Static { height: auto; }
    StreamView > Markdown { height: auto; margin: 0; }
    """

    def __init__(self, flush_interval: float = 0.1, **kw) -> None:
        super().__init__(**kw)
        self.flush_interval = flush_interval
        self._buffer: list[str] = []
        self._parts: list[str] = []  # everything flushed so far
        self._tail = ""
        self._tail_widget: Static | None = None
        self.finished = False

    def compose(self) -> ComposeResult:
        self._tail_widget = Static("", markup=False, classes="tail")
        yield self._tail_widget

    def on_mount(self) -> None:
        self._timer = self.set_interval(self.flush_interval, self.flush, pause=False)

    @property
    def text(self) -> str:
        """Everything received, flushed or not."""
        return "".join(self._parts) + "".join(self._buffer)

    def append(self, text: str) -> None:
        self._buffer.append(text)

    def flush(self) -> None:
        if not self._buffer or self._tail_widget is None:
            return
        chunk = "".join(self._buffer)
        self._buffer.clear()
        self._parts.append(chunk)
        self._tail += chunk
        if len(self._tail) > FREEZE_AT:
            cut = self._tail.rfind("\n", 0, len(self._tail) - 1)
            cut = cut + 1 if cut > FREEZE_AT // 2 else len(self._tail)
            frozen, self._tail = self._tail[:cut], self._tail[cut:]
            self._tail_widget.update(frozen)
            self._tail_widget.remove_class("tail")
            self._tail_widget = Static(self._tail, markup=False, classes="tail")
            self.mount(self._tail_widget)
        else:
            self._tail_widget.update(self._tail)

    async def finish(self, as_markdown: bool = True) -> None:
        """The stream ended: render it once, as Markdown (code highlighted) by default."""
        self.flush()
        self.finished = True
        self._timer.stop()
        if as_markdown:
            text = self.text
            await self.remove_children()
            await self.mount(Markdown(text or "_(no output)_"))
            self._tail_widget = None
