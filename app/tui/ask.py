"""Two small modal questions for the Models view: a line of text (a model to pull) and yes / no."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 80; height: auto; border: thick $primary; background: $surface; padding: 0 1; }}
{name} Static {{ height: auto; padding: 1 0; }}
{name} Horizontal {{ height: 3; align-horizontal: right; }}
"""


class AskText(ModalScreen[str | None]):
    """Dismisses with the text typed (stripped), or None on escape or an empty answer."""

    DEFAULT_CSS = _CSS.format(name="AskText")
    BINDINGS = [("escape", "dismiss(None)", "Close")]

    def __init__(self, question: str, placeholder: str = "", value: str = "") -> None:
        super().__init__()
        self.question = question
        self.placeholder = placeholder
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, markup=False)
            yield Input(value=self.value, placeholder=self.placeholder, id="ask-text")

    @on(Input.Submitted, "#ask-text")
    def answer(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)


class Confirm(ModalScreen[bool]):
    """Yes / no; y and n answer from the keyboard, escape means no."""

    DEFAULT_CSS = _CSS.format(name="Confirm")
    BINDINGS = [("escape,n", "dismiss(False)", "No"), ("y", "dismiss(True)", "Yes")]

    def __init__(self, question: str, yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, markup=False)
            with Horizontal():
                yield Button(f"{self.yes} (y)", id="confirm-yes", variant="warning")
                yield Button("No (n)", id="confirm-no")

    @on(Button.Pressed, "#confirm-yes")
    def yes_pressed(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-no")
    def no_pressed(self) -> None:
        self.dismiss(False)
