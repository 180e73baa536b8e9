"""StreamView: shows a high-rate token stream without stalling the UI.

Deltas are buffered; the owner calls flush() on its timer to move them into a LiveText (plain,
wrapped, only visible rows rendered); once the stream ends it becomes Markdown with highlighted code.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll

from .live_text import LiveText

#: Longer answers stay plain wrapped text: parsing that much Markdown would freeze the UI for a beat.
MARKDOWN_LIMIT = 16_000


class StreamView(Vertical):
    DEFAULT_CSS = """
    StreamView { height: auto; }
    StreamView LiveText { max-height: 24; }
    StreamView.fill { height: 1fr; }
    StreamView.fill LiveText { height: 1fr; max-height: 100%; }
    StreamView.fill > VerticalScroll { height: 1fr; }
    StreamView Markdown { height: auto; margin: 0; }
    """

    def __init__(self, *, fill: bool = False, **kw) -> None:
        super().__init__(**kw)
        self.fill = fill
        self.set_class(fill, "fill")
        self._buffer: list[str] = []
        self._live = LiveText()  # holds everything flushed so far, also once Markdown replaced it
        self.finished = False

    def compose(self) -> ComposeResult:
        yield self._live

    @property
    def text(self) -> str:
        """Everything received, flushed or not."""
        return self._live.text + "".join(self._buffer)

    def append(self, text: str) -> None:
        self._buffer.append(text)

    def flush(self) -> None:
        if not self._buffer or self.finished:
            return
        chunk = "".join(self._buffer)
        self._buffer.clear()
        self._live.append(chunk)

    async def finish(self, as_markdown: bool = True) -> None:
        """The stream ended: render it once, as Markdown (code highlighted) by default."""
        self.flush()
        self.finished = True
        if as_markdown and len(self.text) <= MARKDOWN_LIMIT:
            from textual.widgets import Markdown  # ~50 ms of imports, paid after the first paint

            text = self.text
            await self.remove_children()
            markdown = Markdown(text or "_(no output)_")
            await self.mount(VerticalScroll(markdown) if self.fill else markdown)
