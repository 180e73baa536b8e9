"""Models view: the registry as a sortable, filterable table, with unreachable providers and details;
and the local model lifecycle on the highlighted model: p pull, l load, u unload, d delete, with a
progress bar per running pull and a "loaded now" column refreshed while the view is shown; g adds a
GGUF file to the embedded provider after reading its header."""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Static

from .ask import AskText, Confirm
from .pull_bar import PullBar

COLUMNS = (
    "model",
    "provider",
    "context",
    "size",
    "capabilities",
    "fits",
    "loaded now",
    "status",
    "quality (n)",
)
#: Seconds between two reads of what is loaded (Ollama's /api/ps and the like) while the view is shown.
LOADED_EVERY_S = 2.0


def _size(n: int | None) -> str:
    return "-" if not n else f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


class ModelsView(Vertical):
    DEFAULT_CSS = """
    ModelsView #models-bar { height: 3; }
    ModelsView #models-filter { width: 1fr; }
    ModelsView DataTable { height: 1fr; }
    ModelsView #models-details { height: auto; max-height: 8; color: $text-muted; padding: 0 1; }
    ModelsView #unreachable { height: auto; color: $warning; padding: 0 1; }
    ModelsView #models-action { height: auto; padding: 0 1; }
    ModelsView #pulls { height: auto; }
    """
    BINDINGS = [
        Binding("p", "pull", "Pull"),
        Binding("l", "load", "Load"),
        Binding("u", "unload", "Unload"),
        Binding("d", "delete", "Delete"),
        Binding("g", "add_gguf", "Add GGUF"),
    ]

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.rows: list[dict] = []
        self.sort_key = "model"
        self.sort_reverse = False
        #: The model id under the table's cursor.
        self.highlighted: str | None = None
        #: What is loaded now, by model id (from the lifecycle's last read).
        self.loaded_now: dict[str, object] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(id="models-bar"):
            yield Input(placeholder="filter: name, provider, capability…", id="models-filter")
            yield Button("Refresh", id="models-refresh")
            yield Button("Register model", id="models-register")
            yield Button("Keys", id="models-keys")
        yield DataTable(id="models-table", cursor_type="row", zebra_stripes=True)
        yield Vertical(id="pulls")
        yield Static(
            "p pull · l load · u unload · d delete · g add a GGUF file", id="models-action", markup=False
        )
        yield Static("", id="models-details", markup=False)
        yield Static("Looking for models…", id="unreachable", markup=False)

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.app.view_mounted(self)
        self.set_interval(LOADED_EVERY_S, self.poll_loaded)

    def show(self, discovery, quality: dict[str, tuple[float | None, int]]) -> None:
        self.rows = []
        for m in discovery.models:
            q, n = quality.get(m.id, (None, 0))
            self.rows.append(
                {
                    "model": m.id,
                    "provider": m.provider,
                    "context": m.context_length or 0,
                    "size": m.info.size_bytes or 0,
                    "capabilities": ",".join(sorted(m.capabilities)),
                    "fits": {True: "yes", False: "NO", None: "-"}[m.fits_memory],
                    "loaded now": {True: "yes", False: "-", None: "-"}[m.info.loaded],
                    "status": m.status,
                    "quality (n)": f"{q:.2f} ({n})" if q is not None else f"- ({n})",
                    "_entry": m,
                }
            )
        lines = []
        for u in discovery.unreachable:
            lines.append(f"✗ {u.provider} not found at {u.address}: {u.reason} {u.hint}".rstrip())
        lines += [f"! {n}" for n in discovery.notices]
        self.query_one("#unreachable", Static).update(
            "\n".join(lines) or "Every configured provider answered."
        )
        self._fill()

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        needle = self.query_one("#models-filter", Input).value.lower().strip()

        def text(r: dict) -> str:
            return " ".join(str(v) for k, v in r.items() if k != "_entry").lower()

        def order(r: dict):
            v = r[self.sort_key]
            return v.lower() if isinstance(v, str) else v

        rows = [r for r in self.rows if not needle or needle in text(r)]
        rows.sort(key=order, reverse=self.sort_reverse)
        for r in rows:
            table.add_row(
                r["model"],
                r["provider"],
                str(r["context"] or "-"),
                _size(r["size"]),
                r["capabilities"],
                r["fits"],
                self._loaded_cell(r),
                r["status"],
                r["quality (n)"],
                key=r["model"],
            )

    @on(Input.Changed, "#models-filter")
    def refilter(self) -> None:
        self._fill()

    @on(DataTable.HeaderSelected)
    def sort_by(self, event: DataTable.HeaderSelected) -> None:
        key = COLUMNS[event.column_index]
        self.sort_reverse = not self.sort_reverse if key == self.sort_key else False
        self.sort_key = key
        self._fill()

    @on(DataTable.RowHighlighted, "#models-table")
    def details(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key else None
        self.highlighted = key
        row = next((r for r in self.rows if r["model"] == key), None)
        if row is None:
            return
        m = row["_entry"]
        bits = [
            m.description or "",
            m.memory_note,
            f"family {m.info.family or '-'}, {m.info.parameter_size or '?'}"
            f" parameters, {m.info.quantization or '?'}",
            f"price in/out per 1K tokens: ${m.cost_in_per_1k}/${m.cost_out_per_1k}"
            if m.cost_in_per_1k or m.cost_out_per_1k
            else "free (local)",
        ]
        self.query_one("#models-details", Static).update("\n".join(b for b in bits if b))

    @on(Button.Pressed, "#models-refresh")
    def refresh_models(self) -> None:
        self.app.refresh_models()

    @on(Button.Pressed, "#models-register")
    def register_model(self) -> None:
        self.app.open_register_model()

    @on(Button.Pressed, "#models-keys")
    def open_keys(self) -> None:
        """The Keys panel (app/tui/keys_panel.py): cloud API keys, add / test / remove."""
        if getattr(self.app, "engine", None) is None:
            self.app.notify("The engine is still starting; try again in a moment.")
            return
        from .keys_panel import KeysPanel

        self.app.push_screen(KeysPanel(self.app.engine))

    # -- loaded now --------------------------------------------------------
    def _loaded_cell(self, row: dict) -> str:
        m = self.loaded_now.get(row["model"])
        if m is None:
            return row["loaded now"] if not self.loaded_now and row["loaded now"] == "yes" else "-"
        size = getattr(m, "size_bytes", 0)
        return _size(size) if size else "yes"

    def poll_loaded(self) -> None:
        if self.app.current_tab == "models" and getattr(self.app, "engine", None) is not None:
            self.read_loaded()

    @work(group="models-loaded", exclusive=True, exit_on_error=False, description="read loaded models")
    async def read_loaded(self) -> None:
        lifecycle = getattr(self.app.engine, "lifecycle", None)
        if lifecycle is None:
            return
        loaded, _ = await lifecycle.loaded()
        self.loaded_now = {m.id: m for m in loaded}
        table = self.query_one(DataTable)
        column = table.ordered_columns[COLUMNS.index("loaded now")].key
        for r in self.rows:
            if r["model"] in table.rows:
                table.update_cell(r["model"], column, self._loaded_cell(r))

    # -- actions on the highlighted model -------------------------------------
    def _say(self, sentence: str, severity: str = "information") -> None:
        self.query_one("#models-action", Static).update(sentence)
        self.app.notify(sentence, severity=severity)  # type: ignore[arg-type]

    def _lifecycle(self):
        engine = getattr(self.app, "engine", None)
        if engine is None or engine.lifecycle is None:
            self._say("Still looking for models; try again in a moment.", "warning")
            return None
        return engine.lifecycle

    def _target(self) -> str | None:
        if self.highlighted is None:
            self._say("Highlight a model in the table first.", "warning")
        return self.highlighted

    def action_pull(self) -> None:
        if self._lifecycle() is None:
            return
        current = self.highlighted or ""
        name = current.split("/", 1)[1] if current.startswith("ollama") and "/" in current else ""

        def answered(text: str | None) -> None:
            if text:
                self.pull(text)

        self.app.push_screen(
            AskText(
                "Pull which Ollama model? name:tag (e.g. qwen2.5-coder:7b); host/name:tag for another host.",
                "qwen2.5-coder:7b",
                name,
            ),
            answered,
        )

    def pull(self, text: str) -> None:
        from jarvis.providers.errors import ProviderError

        lifecycle = self._lifecycle()
        if lifecycle is None:
            return
        host, _, name = text.rpartition("/") if "/" in text else (None, "", text)
        try:
            provider, progress = lifecycle.pull(name, host or None)
        except ProviderError as err:
            self._say(str(err), "error")
            return
        worker = None
        bar = PullBar(name, f"{provider.name} at {provider.address}", lambda: worker and worker.cancel())
        self.query_one("#pulls", Vertical).mount(bar)
        worker = self.run_worker(
            self._pull(bar, provider, name, progress),
            group=f"pull-{provider.name}-{name}",
            exit_on_error=False,
            description=f"pull {name}",
        )

    async def _pull(self, bar: PullBar, provider, name: str, progress) -> None:
        from jarvis.providers.errors import ProviderError

        lifecycle = self.app.engine.lifecycle
        where = f"{provider.name} at {provider.address}"
        judged = False
        try:
            async for step in progress:
                if not judged and step.total and step.digest:
                    judged = True
                    fit = await lifecycle.fit(f"{provider.name}/{name}", size_bytes=step.total)
                    if fit is not None:
                        self._say(fit.sentence, "information" if fit.fits else "warning")
                bar.show(step)
        except ProviderError as err:
            self._say(str(err), "error")
        except asyncio.CancelledError:
            self._say(
                f"The pull of {name} on {where} was cancelled; Ollama keeps what it downloaded and"
                " resumes from it next time.",
                "warning",
            )
            raise
        else:
            self._say(f"Pulled {name} to {where}.")
            self.app.refresh_models()
        finally:
            await bar.remove()

    def action_load(self) -> None:
        if (target := self._target()) and self._lifecycle():
            self.load(target)

    @work(group="models-action", exit_on_error=False, description="load a model")
    async def load(self, model_id: str) -> None:
        from jarvis.providers.errors import ProviderError

        lifecycle = self.app.engine.lifecycle
        fit = await lifecycle.fit(model_id)
        if fit is not None:
            self._say(fit.sentence, "information" if fit.fits else "warning")
            if not fit.fits and not await self.app.push_screen_wait(
                Confirm(f"{fit.sentence}\nLoad {model_id} anyway?", "Load")
            ):
                self._say(f"{model_id} was not loaded.")
                return
        try:
            result = await lifecycle.load(model_id)
        except ProviderError as err:
            self._say(str(err), "error")
            return
        self._say(result.sentence)
        self.read_loaded()

    def action_unload(self) -> None:
        if (target := self._target()) and self._lifecycle():
            self.unload(target)

    @work(group="models-action", exit_on_error=False, description="unload a model")
    async def unload(self, model_id: str) -> None:
        from jarvis.providers.errors import ProviderError

        try:
            result = await self.app.engine.lifecycle.unload(model_id)
        except ProviderError as err:
            self._say(str(err), "error")
            return
        self._say(result.sentence)
        self.read_loaded()

    def action_delete(self) -> None:
        if (target := self._target()) and self._lifecycle():
            self.delete(target)

    @work(group="models-action", exit_on_error=False, description="delete a model")
    async def delete(self, model_id: str) -> None:
        from jarvis.providers.errors import ProviderError

        engine = self.app.engine
        busy = await engine.ledger.runs_using_model(model_id)
        if busy:
            self._say(
                f"{model_id} is in use by a running run ({', '.join(busy)}); wait for it or cancel it first.",
                "error",
            )
            return
        if not await self.app.push_screen_wait(
            Confirm(f"Delete {model_id}? Its files are removed from the host.", "Delete")
        ):
            return
        try:
            result = await engine.lifecycle.delete(model_id)
        except ProviderError as err:
            self._say(str(err), "error")
            return
        self._say(result.sentence)
        self.app.refresh_models()

    def action_add_gguf(self) -> None:
        from pathlib import Path

        from .gguf_picker import GGUFPicker

        if self._lifecycle() is None:
            return

        def picked(answer: tuple[str, Path] | None) -> None:
            if answer is not None:
                self.add_gguf(*answer)

        self.app.push_screen(GGUFPicker(Path.cwd()), picked)

    @work(group="models-action", exit_on_error=False, description="add a GGUF file")
    async def add_gguf(self, name: str, path) -> None:
        from jarvis.providers.errors import ProviderError

        from ..gguf_register import GGUFRegistrationError, register_gguf

        engine = self.app.engine
        provider = engine.registry.providers.get("embedded")
        if provider is None:
            self._say("The embedded provider is off ([embedded] enabled = false in your config).", "error")
            return
        try:
            await asyncio.to_thread(register_gguf, engine.paths.config_file, name, path)
            engine.lifecycle.backend(provider).register(name, path)
        except (GGUFRegistrationError, ProviderError) as err:
            self._say(str(err), "error")
            return
        self._say(f"Added embedded/{name}; saved in {engine.paths.config_file}.")
        self.app.refresh_models()
