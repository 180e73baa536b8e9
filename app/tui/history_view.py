"""History view: every run and comparison, searchable; open one to see it as it ran, re-run, export,
delete."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input

from .history_threads import thread_action, thread_order


class RunDetail(ModalScreen[str | None]):
    """A run exactly as the ledger has it; dismisses with an action name."""

    DEFAULT_CSS = """
    RunDetail { align: center middle; }
    RunDetail > Vertical { width: 90%; height: 90%; border: thick $primary; background: $surface; }
    RunDetail VerticalScroll { height: 1fr; }
    RunDetail Horizontal { height: 3; }
    """
    BINDINGS = [("escape", "dismiss(None)", "Close")]

    def __init__(self, run: dict, markdown: str) -> None:
        super().__init__()
        self.run = run
        self.markdown = markdown

    def compose(self) -> ComposeResult:
        from textual.widgets import Markdown

        with Vertical():
            yield VerticalScroll(Markdown(self.markdown))
            # Their own row: beside the others they would push Close off a 100-column screen.
            if self.run["kind"] == "chain":
                with Horizontal(id="thread-actions"):
                    yield Button("Regenerate", id="regenerate")  # this turn again, beside the original
                    if self.run["status"] == "completed":
                        yield Button("Fork", id="fork")  # a new thread from this turn
            with Horizontal():
                if self.run["kind"] == "chain":
                    yield Button("Re-run", id="rerun", variant="primary")
                yield Button("Export Markdown", id="export-md")
                yield Button("Export JSON", id="export-json")
                yield Button("Delete", id="delete", variant="error")
                yield Button("Close", id="close")

    @on(Button.Pressed)
    def act(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "close" else event.button.id)


class HistoryView(Vertical):
    DEFAULT_CSS = """
    HistoryView #history-search { height: 3; }
    HistoryView DataTable { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search tasks and ids…", id="history-search")
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(
            "id", "when", "chain", "status", "models", "rating", "cost", "task"
        )
        self.app.view_mounted(self)

    def on_worker_state_changed(self, event) -> None:
        self.app.worker_changed(event)  # worker messages do not bubble: the app says which one failed

    @on(Input.Changed, "#history-search")
    def search(self) -> None:
        self.reload()

    @work(group="history", exclusive=True, exit_on_error=False, description="load history")
    async def reload(self) -> None:
        if self.app.engine is None:
            return
        needle = self.query_one("#history-search", Input).value.strip() or None
        if needle is not None and needle.startswith("served:"):
            # Requests editors and tools sent to `jarvis serve`: who asked, for which model, what status.
            from jarvis.chains.served_store import served_history

            rows = await self.app.engine.ledger.call_fn(served_history, needle[7:].strip() or None)
            for r in rows:
                r["status"] = f"{r['status']} {r['http_status'] or ''}".rstrip()
                r["task"] = f"[{(r['client'] or '?').split(' ')[0]}] {r['task']}"
        else:
            rows = await self.app.engine.ledger.history(needle, 200)
        table = self.query_one(DataTable)
        table.clear()
        for r, mark in thread_order(rows):  # a thread's turns together, under its first run
            task = mark + r["task"].replace("\n", " ")
            table.add_row(
                r["id"],
                datetime.fromtimestamp(r["started_at"]).strftime("%m-%d %H:%M"),
                r["chain"] or r["kind"],
                r["status"],
                r["models"] or "-",
                f"{r['rating']:.1f}" if r["rating"] else "-",
                f"${r['cost_usd'] or 0:.4f}",
                task[:60] + ("…" if len(task) > 60 else ""),
                key=r["id"],
            )

    @on(DataTable.RowSelected, "#history-table")
    def open_run(self, event: DataTable.RowSelected) -> None:
        self.open(event.row_key.value)

    @work(group="history-open", exclusive=True, exit_on_error=False, description="open a run")
    async def open(self, run_id: str) -> None:
        from jarvis.chains.verify.store import verification_of

        from ..export import run_as_markdown
        from ..thread_export import export_text

        run = await self.app.engine.ledger.run(run_id)
        if run is None:
            self.app.notify(f"{run_id} is gone.", severity="warning")
            return
        # A verified run shows (and exports) its checks, candidates and verdict, as the CLI's do.
        run["verification"] = await self.app.engine.ledger.call_fn(verification_of, run_id)
        action = await self.app.push_screen_wait(RunDetail(run, run_as_markdown(run)))
        if action == "rerun":
            await self.app.rerun(run)
        elif action in ("regenerate", "fork"):
            await thread_action(self.app, action, run_id)
        elif action in ("export-md", "export-json"):
            folder = Path.cwd() / "jarvis-output"
            folder.mkdir(exist_ok=True)
            path = folder / f"{run_id}.{'md' if action == 'export-md' else 'json'}"
            # A turn of a thread is exported with every turn of it, as `jarvis export` does.
            text = await self.app.engine.ledger.call_fn(export_text, run, action == "export-json")
            path.write_text(text)
            self.app.notify(f"Exported to {path}")
        elif action == "delete":
            await self.app.engine.ledger.delete_run(run_id)
            self.app.notify(f"Deleted {run_id}.")
            self.reload()
