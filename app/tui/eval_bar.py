"""Start a `jarvis eval` from the Stats view: a suite, models and chains, a task limit; progress as it
goes, the matrix when it is done (the Stats view reads it from the ledger, as for a CLI eval)."""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static


class EvalBar(Vertical):
    DEFAULT_CSS = """
    EvalBar { height: auto; }
    EvalBar Horizontal { height: 3; }
    EvalBar #eval-suite { width: 28; }
    EvalBar #eval-models { width: 1fr; }
    EvalBar #eval-chains { width: 26; }
    EvalBar #eval-limit { width: 12; }
    EvalBar #eval-progress { color: $text-muted; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.cancel_event: asyncio.Event | None = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Input("humaneval", placeholder="suite: humaneval or a .jsonl file", id="eval-suite")
            yield Input(placeholder="models, comma-separated (e.g. embedded/smollm2-135m)", id="eval-models")
            yield Input(placeholder="chains (default)", id="eval-chains")
            yield Input(placeholder="limit", id="eval-limit", type="integer")
            yield Button("Run eval", id="eval-run")
            yield Button("Stop", id="eval-stop", disabled=True)
        yield Static("", id="eval-progress", markup=False)

    def on_worker_state_changed(self, event) -> None:
        self.app.worker_changed(event)  # worker messages do not bubble: the app says which one failed

    def _values(self) -> tuple[str, list[str], list[str], int | None] | None:
        def items(field: str) -> list[str]:
            return [v.strip() for v in self.query_one(field, Input).value.split(",") if v.strip()]

        suite = self.query_one("#eval-suite", Input).value.strip()
        models = items("#eval-models")
        limit_text = self.query_one("#eval-limit", Input).value.strip()
        if not suite or not models:
            self.app.notify("Name a suite and at least one model to run an eval.", severity="warning")
            return None
        limit = int(limit_text) if limit_text.lstrip("-").isdigit() else None
        if limit is not None and limit < 1:
            self.app.notify("The limit must be 1 or more.", severity="warning")
            return None
        return suite, models, items("#eval-chains") or ["default"], limit

    @on(Button.Pressed, "#eval-run")
    def start(self) -> None:
        if self.app.engine is None or self.cancel_event is not None:
            return
        values = self._values()
        if values is None:
            return
        self.cancel_event = asyncio.Event()
        self.query_one("#eval-run", Button).disabled = True
        self.query_one("#eval-stop", Button).disabled = False
        self.run_eval(*values)

    @on(Button.Pressed, "#eval-stop")
    def stop(self) -> None:
        if self.cancel_event is not None:
            self.cancel_event.set()

    @work(group="eval", exclusive=True, exit_on_error=False, description="run an eval")
    async def run_eval(
        self, suite_name: str, models: list[str], chains: list[str], limit: int | None
    ) -> None:
        from jarvis.chains.eval_runner import EvalError, EvalRunner
        from jarvis.chains.verify.suites import SuiteError

        from ..eval_commands import load
        from .verify_view import acknowledged

        progress = self.query_one("#eval-progress", Static)
        try:
            # Eval runs model-written code too: the same one-time notice as a verified run.
            if not await acknowledged(self.app):
                progress.update("Not run: the code of an eval runs in the sandbox, and that was declined.")
                return
            try:
                suite = await asyncio.to_thread(load, suite_name, limit, 1)
            except SuiteError as err:
                self.app.notify(f"{err}.".replace("..", "."), severity="warning", timeout=8)
                return
            engine = self.app.engine
            runner = EvalRunner(
                engine.orchestrator.run,
                registry=engine.registry,
                chains=engine.chains,
                ledger=engine.ledger,
                sandbox=engine.orchestrator.chain_runner._sandbox(),
                release=engine.lifecycle.release if engine.lifecycle else None,
            )

            def shown(event) -> None:
                r = event.result
                state = "…" if r is None else ("✓" if r.passed else f"✗ {r.reason}")
                progress.update(
                    f"[{event.index}/{event.total}] {event.model} {event.chain} {event.task_id} {state}"
                )

            try:
                report = await runner.run(suite, models, chains, on_progress=shown, cancel=self.cancel_event)
            except EvalError as err:
                self.app.notify(str(err).rstrip(".") + ".", severity="warning", timeout=8)
                return
            passed = sum(r.passed for r in report.results)
            progress.update(
                f"{report.eval_id} {report.status}: {passed}/{len(report.results)} passed"
                f" (sandbox {report.tier})"
            )
        finally:
            self.cancel_event = None
            self.query_one("#eval-run", Button).disabled = False
            self.query_one("#eval-stop", Button).disabled = True
            self.app.runs_changed()
