"""Pick a GGUF file for the embedded provider: a file tree showing folders and .gguf files, the header
read before anything is added (architecture, parameters, quantisation, context), and a name."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Input, Static


class GGUFTree(DirectoryTree):
    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [p for p in paths if not p.name.startswith(".") and (p.is_dir() or p.suffix == ".gguf")]


class GGUFPicker(ModalScreen[tuple[str, Path] | None]):
    """Dismisses with (name, path) once a readable GGUF file and a name are given."""

    DEFAULT_CSS = """
    GGUFPicker { align: center middle; }
    GGUFPicker > Vertical { width: 100; height: 90%; border: thick $primary; background: $surface;
                            padding: 0 1; }
    GGUFPicker GGUFTree { height: 1fr; }
    GGUFPicker #gguf-header { height: auto; padding: 1 0; }
    GGUFPicker Horizontal { height: 3; }
    GGUFPicker #gguf-name { width: 1fr; }
    """
    BINDINGS = [("escape", "dismiss(None)", "Close")]

    def __init__(self, start: Path) -> None:
        super().__init__()
        self.start = start
        self.path: Path | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Add a GGUF file as an embedded model (escape closes).", markup=False)
            yield Input(placeholder="path/to/model.gguf", id="gguf-path")
            yield GGUFTree(self.start, id="gguf-tree")
            yield Static(
                "Pick a .gguf file: its header is read before anything is added.",
                id="gguf-header",
                markup=False,
            )
            with Horizontal():
                yield Input(placeholder="name", id="gguf-name")
                yield Button("Add", id="gguf-add", variant="primary", disabled=True)

    @on(DirectoryTree.FileSelected, "#gguf-tree")
    def picked(self, event: DirectoryTree.FileSelected) -> None:
        self.query_one("#gguf-path", Input).value = str(event.path)

    @on(Input.Changed, "#gguf-path")
    def path_changed(self, event: Input.Changed) -> None:
        self.read_header(event.value.strip())

    @work(exclusive=True, exit_on_error=False, description="read a GGUF header")
    async def read_header(self, text: str) -> None:
        from jarvis.providers.errors import ProviderError
        from jarvis.providers.lifecycle_embedded import describe_gguf

        from ..gguf_register import suggested_name

        show = self.query_one("#gguf-header", Static)
        add = self.query_one("#gguf-add", Button)
        self.path, add.disabled = None, True
        path = Path(text).expanduser()
        if not text or not path.is_file():
            show.update("Pick a .gguf file: its header is read before anything is added.")
            return
        try:
            header = await asyncio.to_thread(describe_gguf, path)
        except ProviderError as err:
            show.update(str(err))
            return
        self.path, add.disabled = path.resolve(), False
        show.update(
            f"{header.get('name') or path.name}: {header.get('architecture') or '?'},"
            f" {header.get('parameters') or '?'} parameters, {header.get('quantization') or '?'},"
            f" {header.get('context_length') or '?'}-token context, {header['size_bytes'] / 1e6:.0f} MB"
        )
        name = self.query_one("#gguf-name", Input)
        if not name.value:
            name.value = suggested_name(path, header.get("name"))

    @on(Button.Pressed, "#gguf-add")
    @on(Input.Submitted, "#gguf-name")
    def add(self) -> None:
        name = self.query_one("#gguf-name", Input).value.strip()
        if self.path is not None and name:
            self.dismiss((name, self.path))
