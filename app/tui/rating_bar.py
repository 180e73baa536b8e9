"""RatingBar: 1-5 stars, a comment and an optional correction for a run or a step."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button, Input, Label


class RatingBar(Horizontal):
    DEFAULT_CSS = """
    RatingBar { height: 3; width: 100%; }
    RatingBar Label { padding: 1 1 0 0; }
    RatingBar Button { min-width: 5; width: 5; margin: 1 0 0 0; }
    RatingBar Input { width: 1fr; }
    RatingBar .rated { background: $success; }
    """

    class Rated(Message):
        def __init__(self, bar: RatingBar, target_id: str, score: int, comment: str | None) -> None:
            super().__init__()
            self.bar = bar
            self.target_id = target_id
            self.score = score
            self.comment = comment

    def __init__(self, target_id: str, label: str = "Rate", **kw) -> None:
        super().__init__(**kw)
        self.target_id = target_id
        self.label = label
        self.score: int | None = None

    def compose(self) -> ComposeResult:
        yield Label(f"{self.label}:")
        for n in range(1, 6):
            yield Button(str(n), id=f"star-{n}", compact=True)
        yield Input(placeholder="comment (optional), then press a number", id="comment")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if not (event.button.id or "").startswith("star-"):
            return
        event.stop()
        self.score = int(event.button.id.split("-")[1])
        for n in range(1, 6):
            self.query_one(f"#star-{n}", Button).set_class(n <= self.score, "rated")
        comment = self.query_one("#comment", Input).value.strip() or None
        self.post_message(self.Rated(self, self.target_id, self.score, comment))
