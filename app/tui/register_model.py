"""Register a custom model: a form that writes `[[custom_models]]` to the config file and rediscovers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from ..custom_models import CAPABILITIES

FIELDS = (
    ("id", "Model id", "provider/name, e.g. ollama/my-finetune:latest"),
    ("capabilities", "Capabilities", ", ".join(CAPABILITIES[:3]) + " …"),
    ("context_length", "Context length", "tokens, when the provider does not say"),
    ("cost_in_per_1k", "$ per 1K in", "blank for a local model"),
    ("cost_out_per_1k", "$ per 1K out", "blank for a local model"),
    ("tags", "Tags", "comma-separated"),
    ("description", "Description", "shown in the Models details"),
)


class RegisterModel(ModalScreen[str | None]):
    """Stays open, saying what is wrong, until `save` accepts the model; dismisses with its id."""

    DEFAULT_CSS = """
    RegisterModel { align: center middle; }
    RegisterModel > VerticalScroll { width: 84; height: auto; max-height: 90%; border: thick $primary;
                                background: $surface; padding: 0 1; }
    RegisterModel Grid { grid-size: 2; grid-columns: 16 1fr; grid-rows: 3; height: auto; }
    RegisterModel Label { padding: 1 0 0 0; }
    RegisterModel #register-error { color: $error; height: auto; }
    RegisterModel Horizontal { height: 3; align-horizontal: right; }
    """
    BINDINGS = [("escape", "dismiss(None)", "Close")]

    def __init__(self, save: Callable[[object], Awaitable[None]]) -> None:
        super().__init__()
        self.save = save  # raises RegistrationError with the sentence to show

    def compose(self) -> ComposeResult:
        with VerticalScroll():  # scrolls on a short terminal
            yield Static(
                "Register a model: facts its provider does not report, or a model to expect. "
                "It is added to your config file as [[custom_models]].",
                markup=False,
            )
            with Grid():
                for key, label, hint in FIELDS:
                    yield Label(label)
                    yield Input(placeholder=hint, id=f"reg-{key}")
            yield Static("", id="register-error", markup=False)
            with Horizontal():
                yield Button("Register", id="register", variant="primary")
                yield Button("Cancel", id="register-cancel")

    def fields(self) -> dict[str, str]:
        return {key: self.query_one(f"#reg-{key}", Input).value for key, _, _ in FIELDS}

    def show_error(self, text: str) -> None:
        self.query_one("#register-error", Static).update(text)

    def on_worker_state_changed(self, event) -> None:
        self.app.worker_changed(event)  # worker messages do not bubble: the app says which one failed

    @on(Button.Pressed, "#register")
    @on(Input.Submitted)
    def submit(self) -> None:
        self.register(self.fields())

    @work(group="register-model", exclusive=True, exit_on_error=False, description="register a model")
    async def register(self, fields: dict[str, str]) -> None:
        from ..custom_models import RegistrationError, parse_fields

        try:
            model = parse_fields(fields)
            await self.save(model)
        except RegistrationError as err:
            self.show_error(str(err))
            return
        self.dismiss(model.id)

    @on(Button.Pressed, "#register-cancel")
    def cancel(self) -> None:
        self.dismiss(None)
