"""The follow-up box under a finished answer (Run and Compare views), and the earlier turns shown above
a follow-up as it streams (chains.threads)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Static

if TYPE_CHECKING:
    from jarvis.chains.threads import FollowUp

#: Lines of an earlier answer shown above the next turn (the whole of it is in History).
SHOWN_LINES = 12


class FollowUpBox(Vertical):
    """Enter sends the text as the next turn after ``run_id`` (``fork``: as the first turn of a new
    thread that starts from it)."""

    DEFAULT_CSS = """
    FollowUpBox { height: auto; margin: 1 0 0 0; }
    FollowUpBox Input { width: 1fr; }
    FollowUpBox .hint { color: $text-muted; }
    """

    class Sent(Message):
        def __init__(self, box: FollowUpBox, run_id: str, text: str, fork: bool) -> None:
            super().__init__()
            self.box = box
            self.run_id = run_id
            self.text = text
            self.fork = fork

    def __init__(self, run_id: str, *, fork: bool = False, models: int = 1, **kw) -> None:
        super().__init__(**kw)
        self.run_id = run_id
        self.fork = fork
        self.models = models

    def compose(self) -> ComposeResult:
        if self.fork:
            hint = f"A new thread from {self.run_id}: its turns above stay as they are."
        elif self.models > 1:
            hint = f"Every model continues its own answer to {self.run_id}."
        else:
            hint = f"The model sees the task and the answers so far ({self.run_id})."
        yield Static(hint, classes="hint", markup=False)
        yield Input(placeholder="Follow up… (enter sends)", id="follow-up-text")

    def focus(self, scroll_visible: bool = True) -> FollowUpBox:
        field = self.query(Input)
        if field:
            field.first().focus(scroll_visible)
        else:  # mounted but not composed yet (a busy machine): focus the field once it is there
            self.call_after_refresh(self.focus, scroll_visible)
        return self

    @on(Input.Submitted, "#follow-up-text")
    def send(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            self.app.notify("Type a follow-up first.", severity="warning")
            return
        event.input.disabled = True  # one follow-up per answer: the next box comes with the next answer
        self.post_message(self.Sent(self, self.run_id, text, self.fork))

    def reopen(self) -> None:
        """The follow-up did not start (a run was going, the turn cannot be continued): type again."""
        field = self.query_one(Input)
        field.disabled = False
        field.focus()


class EarlierTurn(Static):
    DEFAULT_CSS = "EarlierTurn { border: round $primary-darken-2; color: $text-muted; padding: 0 1; }"


class TurnHeading(Static):
    DEFAULT_CSS = "TurnHeading { text-style: bold; margin: 1 0 0 0; }"


def earlier_turns(follow_up: FollowUp | None, task: str) -> list[Widget]:
    """Above a follow-up as it streams: each earlier turn (its task, the start of its answer), then the
    new turn's heading."""
    if follow_up is None:
        return []
    out: list[Widget] = []
    for n, turn in enumerate(follow_up.turns, 1):
        lines = turn.answer.splitlines()
        shown = "\n".join(lines[:SHOWN_LINES])
        more = f"\n… {len(lines) - SHOWN_LINES} more lines (History, F5)" if len(lines) > SHOWN_LINES else ""
        out.append(EarlierTurn(f"Turn {n} · {turn.run_id}\n> {turn.task}\n\n{shown}{more}", markup=False))
    how = "new thread" if follow_up.thread_id is None else "follow-up"
    out.append(TurnHeading(f"Turn {follow_up.turn} ({how}): {task}", markup=False))
    return out
