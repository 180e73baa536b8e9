"""Models view: the registry as a sortable, filterable table, with unreachable providers and details."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Static

COLUMNS = ("model", "provider", "context", "size", "capabilities", "fits", "loaded", "status", "quality (n)")


def _size(n: int | None) -> str:
    return "-" if not n else f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


class ModelsView(Vertical):
    DEFAULT_CSS = """
    ModelsView #models-bar { height: 3; }
    ModelsView #models-filter { width: 1fr; }
    ModelsView DataTable { height: 1fr; }
    ModelsView #models-details { height: auto; max-height: 8; color: $text-muted; padding: 0 1; }
    ModelsView #unreachable { height: auto; color: $warning; padding: 0 1; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.rows: list[dict] = []
        self.sort_key = "model"
        self.sort_reverse = False

    def compose(self) -> ComposeResult:
        with Horizontal(id="models-bar"):
            yield Input(placeholder="filter: name, provider, capability…", id="models-filter")
            yield Button("Refresh", id="models-refresh")
            yield Button("Register model", id="models-register")
        yield DataTable(id="models-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="models-details", markup=False)
        yield Static("Looking for models…", id="unreachable", markup=False)

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.app.view_mounted(self)

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
                    "loaded": {True: "yes", False: "no", None: "-"}[m.info.loaded],
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
                r["loaded"],
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
