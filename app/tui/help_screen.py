"""The `?` / F1 help: every key, in one place."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# Jarvis Workbench — keys

| key | does |
|---|---|
| **F1** or **?** | this help |
| **F2** … **F6** | Run · Compare · Models · History · Stats |
| **ctrl+r** | run the task (Run) / compare (Compare) |
| **esc** | cancel what is streaming |
| **ctrl+p** | command palette |
| **ctrl+q** | quit |
| **tab / shift+tab** | move between fields; the mouse works too |
| **enter / space** | open a picker (chain, strategy, task type) |

Rate any step or run with the number buttons under it (add a comment first if you like).
In Compare, turn on *blind* to hide model names until you have voted.
History rows open on **enter**: re-run, export Markdown/JSON, delete.
Models: type to filter, click a column header to sort, "Register model" adds one to your config.

Press **esc** to close.
"""


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 72; height: auto; max-height: 90%; border: thick $primary;
                            background: $surface; padding: 0 1; }
    """
    BINDINGS = [
        ("escape", "dismiss(None)", "Close"),
        ("f1", "dismiss(None)", "Close"),
        ("q", "dismiss(None)", ""),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Markdown(HELP)
