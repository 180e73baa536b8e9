"""WorkbenchApp: the Textual workbench. It renders the engine's events; no model call lives in a widget."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.notifications import SeverityLevel
from textual.widget import Widget
from textual.widgets import ContentSwitcher
from textual.worker import Worker, WorkerState

from .choice import Choice
from .key_line import KeyLine
from .rating_bar import RatingBar
from .run_view import RunView
from .status_bar import MemoryReading, StatusBar
from .tab_line import TabLine

TABS = (
    ("run", "Run F2"),
    ("compare", "Compare F3"),
    ("models", "Models F4"),
    ("history", "History F5"),
    ("stats", "Stats F6"),
)
#: The other views are imported and mounted when first shown: before the first frame only Run is built.
VIEWS = {
    "compare": ("compare_view", "CompareView"),
    "models": ("models_view", "ModelsView"),
    "history": ("history_view", "HistoryView"),
    "stats": ("stats_view", "StatsView"),
}


class WorkbenchApp(App[None]):
    TITLE = "Jarvis Workbench"
    CSS = """
    Screen { layout: vertical; }
    #views { height: 1fr; }
    #views > * { padding: 0 1; }
    """
    BINDINGS = [
        Binding("f1", "help", "Help", key_display="F1"),
        Binding("question_mark", "help", "Help", show=False),
        # The view keys are priority bindings: the task box (a TextArea) takes F6 for "select line".
        Binding("f2", "show_tab('run')", "Run", key_display="F2", priority=True),
        Binding("f3", "show_tab('compare')", "Compare", key_display="F3", priority=True),
        Binding("f4", "show_tab('models')", "Models", key_display="F4", priority=True),
        Binding("f5", "show_tab('history')", "History", key_display="F5", priority=True),
        Binding("f6", "show_tab('stats')", "Stats", key_display="F6", priority=True),
        # Not a priority binding: those run before the focused widget has taken the keys typed just
        # before, so "type a task, ctrl+r" could start with an empty task box.
        Binding("ctrl+r", "start", "Run/compare"),
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        engine_factory: Callable[[], Awaitable[Any]],
        *,
        settings_path: Path | None = None,
        on_notify: Callable[[str, SeverityLevel], object] | None = None,
        stopwatch: Callable[[], float] = time.perf_counter,
        read_memory: Callable[[], MemoryReading] | None = None,
        **kw,
    ) -> None:
        """`on_notify` hears every notification (its text and severity) as it is made: a log or a test
        can follow what the user was told without reading Textual's toast queue. `stopwatch` times the
        live token stats; `read_memory` gives the status line's figures (default: psutil's). Tests pass
        scripted ones instead of patching modules."""
        super().__init__(**kw)
        self._engine_factory = engine_factory
        self.on_notify = on_notify
        self.stopwatch = stopwatch
        self.read_memory = read_memory
        self.engine = None
        self.settings_path = settings_path
        self.settings: dict[str, Any] = {}
        #: The widget that had focus in each view when the user left it, to give it back on return.
        self._focus_in: dict[str, Widget] = {}
        #: The OpenAI/Ollama server run from the command palette (app/tui/serve_toggle.py), if any.
        self.api_server: Any = None

    def compose(self) -> ComposeResult:
        yield TabLine(TABS, "run")
        with ContentSwitcher(initial="run-view", id="views"):
            yield RunView(id="run-view")
        yield StatusBar()
        yield KeyLine()

    def view(self, tab: str) -> Widget | None:
        """The tab's view if it has been shown (the Run view always has)."""
        try:
            return self.query_one(f"#views > #{tab}-view")
        except NoMatches:
            return None

    @property
    def current_tab(self) -> str:
        return (self.query_one("#views", ContentSwitcher).current or "run-view").removesuffix("-view")

    async def ensure_view(self, tab: str) -> Widget:
        view = self.view(tab)
        if view is None:
            import importlib

            module, name = VIEWS[tab]
            view = getattr(importlib.import_module(f"{__package__}.{module}"), name)(id=f"{tab}-view")
            await self.query_one("#views", ContentSwitcher).mount(view)
        return view

    def on_ready(self) -> None:
        self.settings = self._load_settings()
        # Start the engine once the first frame is on screen: its imports hold the GIL on a
        # thread and would otherwise delay that frame.
        self.set_timer(0.15, self.start_engine)

    @work(group="engine", exclusive=True, exit_on_error=False, description="start the engine")
    async def start_engine(self) -> None:
        try:
            self.engine = await self._engine_factory()
        except Exception as err:  # e.g. a broken config file: say so on screen, keep the app up
            self.query_one(RunView).show_problem(f"Jarvis cannot start: {err}")
            self.query_one(StatusBar).providers_note = "not started"
            self.query_one(StatusBar).refresh_memory()
            self.notify(str(err), severity="error", timeout=30)
            return
        self.refresh_views()
        if self.engine.interrupted:
            self.notify(
                f"{len(self.engine.interrupted)} run(s) were interrupted when Jarvis last stopped;"
                " they are marked so in History.",
                severity="warning",
                timeout=8,
            )

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        if self.on_notify is not None:
            self.on_notify(str(message), severity)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    # -- one place for every worker's failure ------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.worker_changed(event)

    def worker_changed(self, event: Worker.StateChanged) -> None:
        """The app's workers and, forwarded by their views, the views' (these messages do not bubble)."""
        if event.state == WorkerState.ERROR:
            err = event.worker.error
            self.notify(f"{event.worker.description or 'A task'} failed: {err}", severity="error", timeout=12)

    # -- views ----------------------------------------------------------------
    def available_models(self) -> list[str]:
        return [
            m.id
            for m in self.engine.registry.discovery.models
            if m.status == "available" and "chat" in m.capabilities
        ]

    def view_mounted(self, view) -> None:
        """A lazily mounted view fills itself if the engine got there first."""
        if self.engine is None:
            return
        tab = view.id.removesuffix("-view")
        if tab == "compare":
            view.engine_ready(self.available_models(), self.settings)
        elif tab == "models":
            self.show_models()
        elif tab in ("history", "stats"):
            view.reload()

    def refresh_views(self) -> None:
        engine = self.engine
        discovery = engine.registry.discovery
        available = self.available_models()
        if compare := self.view("compare"):  # otherwise it fills itself in view_mounted
            compare.engine_ready(available, self.settings)
        self.query_one(RunView).engine_ready(sorted(engine.chains.chains), self.settings)
        self.query_one(StatusBar).loaded = [m.id for m in discovery.models if m.info.loaded]
        down = [u.provider for u in discovery.unreachable]
        note = f"{len(available)} model(s) ready"
        self.query_one(StatusBar).providers_note = note + (" · not found: " + ", ".join(down) if down else "")
        self.query_one(StatusBar).refresh_memory()  # show it now, not at the next tick
        self.show_models()
        self.runs_changed()

    @work(group="models", exclusive=True, exit_on_error=False, description="list models")
    async def show_models(self) -> None:
        def quality(ledger):
            rows = ledger.query(
                "SELECT model_id, AVG(score) AS mean, COUNT(*) AS n FROM ratings GROUP BY model_id"
            )
            return {r["model_id"]: (r["mean"], r["n"]) for r in rows}

        q = await self.engine.ledger.call_fn(quality)
        if view := self.view("models"):
            view.show(self.engine.registry.discovery, q)

    @work(group="models-refresh", exclusive=True, exit_on_error=False, description="refresh models")
    async def refresh_models(self) -> None:
        if self.engine is None:
            return
        await self.engine.registry.refresh()
        self.refresh_views()
        self.notify(f"{len(self.engine.registry.models)} model(s) found.")

    def open_register_model(self) -> None:
        if self.engine is None:
            self.notify("Still looking for models; try again in a moment.", severity="warning")
            return
        from .register_model import RegisterModel

        def registered(model_id: str | None) -> None:
            if model_id:
                self.notify(f"Registered {model_id}; saved in {self.engine.paths.config_file}.")

        self.push_screen(RegisterModel(self.register_model), registered)

    async def register_model(self, model) -> None:
        """Saves a custom model to the config file (raises RegistrationError) and rediscovers."""
        from ..compose import custom_model
        from ..custom_models import register

        await asyncio.to_thread(register, self.engine.paths.config_file, model)
        self.engine.registry.custom[model.id] = custom_model(model)
        self.refresh_models()

    def runs_changed(self) -> None:
        if self.engine is not None:
            for tab in ("history", "stats"):
                if view := self.view(tab):
                    view.reload()

    # -- actions --------------------------------------------------------------
    def action_help(self) -> None:
        from .help_screen import HelpScreen  # its Markdown import is paid on first use

        self.push_screen(HelpScreen())

    async def action_show_tab(self, tab: str) -> None:
        left = self.current_tab
        if self.focused is not None and self.view(left) in self.focused.ancestors:
            self._focus_in[left] = self.focused
        view = await self.ensure_view(tab)
        self.query_one("#views", ContentSwitcher).current = view.id
        self.query_one(TabLine).active = tab
        self.call_after_refresh(self._focus_view, tab)

    def _focus_view(self, tab: str) -> None:
        """Where the user was in that view, else its first field: hiding a view drops the focus."""
        view = self.view(tab)
        if view is None or (self.focused is not None and view in self.focused.ancestors):
            return
        widget = self._focus_in.get(tab)
        if widget is None or not widget.is_attached or not widget.focusable:
            widget = next((w for w in view.query("*") if w.focusable), None)
        if widget is not None:
            widget.focus()

    @on(TabLine.Chosen)
    async def tab_chosen(self, event: TabLine.Chosen) -> None:
        await self.action_show_tab(event.tab)

    async def action_start(self) -> None:
        if self.current_tab == "compare":
            self.view("compare").start()
        else:
            await self.action_show_tab("run")
            self.query_one(RunView).start()

    def action_cancel(self) -> None:
        for view in filter(None, (self.view("run"), self.view("compare"))):
            if view.cancel_event is not None:
                view.cancel_event.set()
                self.notify("Cancelling…", timeout=2)

    async def rerun(self, run: dict) -> None:  # from History: the Run view is always mounted
        await self.action_show_tab("run")
        if run.get("chain"):
            try:
                self.query_one(RunView).query_one("#chain", Choice).value = run["chain"]
            except ValueError:
                self.notify(
                    f"The chain {run['chain']!r} no longer exists; running with the one selected.",
                    severity="warning",
                )
        from ..run_context import context_shape

        # The same files, as they are now, given as they were (-f files, folders walked again).
        self.query_one(RunView).attach_files(run.get("files") or [], context_shape(run))
        self.query_one(RunView).start(run["task"])

    # -- feedback -------------------------------------------------------------
    @on(RatingBar.Rated)
    def rated(self, event: RatingBar.Rated) -> None:
        self.record_rating(event.target_id, event.score, event.comment)

    @work(group="feedback", exit_on_error=False, description="save a rating")
    async def record_rating(self, target_id: str, score: int, comment: str | None) -> None:
        from jarvis.chains import feedback

        rating = await self.engine.ledger.call_fn(feedback.rate, target_id, score, comment=comment)
        self.engine.bus.publish(feedback.received(rating))
        await self.engine.orchestrator.refresh_stats(rating["task_type"])
        self.notify(f"Rated {score}/5 — {rating['model_id'] or 'run'} for {rating['task_type']}.")
        self.runs_changed()
        self.show_models()

    async def record_vote(self, compare_id: str, winner: str) -> dict:
        from jarvis.chains import feedback

        result = await self.engine.ledger.call_fn(feedback.vote, compare_id, winner)
        self.engine.bus.publish(feedback.received(result))
        await self.engine.orchestrator.refresh_stats(result["task_type"])
        self.runs_changed()
        return result

    # -- settings ---------------------------------------------------------------
    def _load_settings(self) -> dict[str, Any]:
        if self.settings_path is None:
            return {}
        try:
            return json.loads(self.settings_path.read_text())
        except (OSError, ValueError):
            return {}

    def save_settings(self, **values: Any) -> None:
        self.settings.update(values)
        if self.settings_path is None:
            return
        try:
            self.settings_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.settings_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.settings))
            os.replace(tmp, self.settings_path)
        except OSError as err:
            self.notify(f"Could not save settings: {err}", severity="warning")

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        from .serve_toggle import serve_command

        yield serve_command(self)

    async def on_unmount(self) -> None:
        if self.api_server is not None:
            await self.api_server.stop()
        if self.engine is not None:
            await self.engine.close()
