"""Run view: type a task, pick a chain, watch every step stream, then rate the result."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Static, TextArea

from .choice import Choice
from .context_panel import ContextPanel
from .follow_up_box import FollowUpBox, earlier_turns
from .path_complete import PathChoices, TaskArea
from .rating_bar import RatingBar
from .step_pane import StepPane
from .verify_view import CandidateBox, ChecksBox, acknowledged, verdict_text

if TYPE_CHECKING:  # the engine's modules are imported once the first frame is up
    from jarvis.chains.run_options import RunOptions
    from jarvis.chains.threads import FollowUp

STRATEGIES = ("balanced", "quality", "performance", "reliability", "cost")


class RunView(Vertical):
    DEFAULT_CSS = """
    RunView #controls { height: auto; }
    RunView #task { height: 6; }
    RunView #options { height: 3; }
    RunView #chain { width: 22; }
    RunView #strategy { width: 26; }
    RunView #options Button { min-width: 10; }
    RunView #options Input { width: 1fr; }
    RunView #switches { height: 1; }
    RunView #switches Checkbox { margin-right: 3; }
    RunView #verify-row { height: 1; }
    RunView #example { display: none; }
    RunView #example.wanted { display: block; }
    RunView #steps { height: 1fr; }
    RunView #result { height: auto; border: round $success; padding: 0 1; }
    RunView .notice { color: $warning; }
    RunView .code-actions { height: 3; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.cancel_event: asyncio.Event | None = None
        self.panes: dict[str, StepPane] = {}
        self.last_result: dict | None = None
        self.run_id: str | None = None
        self._start_when_ready = False
        #: The running verified run's check texts (to split its ✓/✗ lines) and its verdict.
        self.check_displays: list[str] = []
        self.verification = None
        #: The one-time notice is up: another ctrl+r must not stack a second one.
        self._confirming = False

    def compose(self) -> ComposeResult:
        with Vertical(id="controls"):
            yield TaskArea(id="task", placeholder="Describe a coding task… (ctrl+r runs it, esc cancels)")
            yield PathChoices(id="path-choices")  # `@` in the task: files to attach, from the current folder
            with Horizontal(id="options"):
                yield Choice([("default", "default")], label="chain", id="chain")
                yield Choice([(s, s) for s in STRATEGIES], "balanced", label="strategy", id="strategy")
                yield Input(
                    placeholder="model override (e.g. ollama/qwen2.5-coder:7b), blank = auto", id="model"
                )
                yield Button("Run", id="run", variant="primary")
                yield Button("Cancel", id="cancel", variant="error", disabled=True)
            with Horizontal(id="switches"):
                yield Checkbox("fresh answer (skip the cache)", id="no-cache", compact=True)
                yield Checkbox("this model only (no fallback)", id="no-fallback", compact=True)
            with Horizontal(id="verify-row"):
                yield Checkbox("verify (run the code in a sandbox)", id="verify", compact=True)
            # Asked only when verify is on and the task states no example: one call and its result.
            yield Input(
                placeholder="The task gives no example: one call and its result, e.g. is_prime(7) is"
                " True (optional)",
                id="example",
            )
        yield ContextPanel(id="context")
        yield VerticalScroll(Static("Type a task and press Run.", id="hint"), id="steps")

    def on_mount(self) -> None:
        self.query_one("#task", TextArea).focus()  # a person just starts typing

    def on_worker_state_changed(self, event) -> None:
        self.app.worker_changed(event)  # worker messages do not bubble: the app says which one failed

    def show_problem(self, text: str) -> None:
        self.query_one("#hint", Static).update(f"✗ {text}\nFix it, then restart jarvis.")

    def engine_ready(self, chains: list[str], settings: dict) -> None:
        if isinstance(settings.get("verify"), bool):
            self.query_one("#verify", Checkbox).value = settings["verify"]
        self.query_one("#chain", Choice).set_options(
            [(c, c) for c in chains], settings["chain"] if settings.get("chain") in chains else "default"
        )
        if settings.get("strategy") in STRATEGIES:
            self.query_one("#strategy", Choice).value = settings["strategy"]
        if self._start_when_ready:
            self._start_when_ready = False
            self.start()

    @on(Choice.Changed, "#chain")
    def chain_changed(self, event: Choice.Changed) -> None:
        if self._chain_verifies(event.value):  # that chain runs its code: the switch says so
            self.query_one("#verify", Checkbox).value = True

    @on(Checkbox.Changed, "#verify")
    @on(TextArea.Changed, "#task")
    def ask_for_example(self) -> None:
        """Show the example field only when verify is on and the task states no example."""
        self.query_one("#example", Input).set_class(self._wants_example(), "wanted")

    @on(TextArea.Changed, "#task")
    def complete_path(self) -> None:
        self.query_one("#task", TaskArea).refresh_choices()

    @on(TaskArea.Attached)
    def attach_file(self, event: TaskArea.Attached) -> None:
        problem = self.query_one(ContextPanel).attach(event.path)
        if problem:
            self.app.notify(problem, severity="warning", timeout=8)

    def attach_files(self, files: list[dict], shape: dict | None = None) -> None:
        """An earlier run's files (History's re-run), attached again as they are on disk now, as that run
        was given them (`shape`: its -f files and its folders, walked again)."""
        from ..run_context import given_again

        panel = self.query_one(ContextPanel)
        panel.clear()
        root = Path(files[0]["root"]) if files else Path.cwd()
        named, dirs = given_again(root, [Path(f["root"]) / f["path"] for f in files], shape or {})
        for path in [*named, *dirs]:
            problem = panel.attach(str(path))
            if problem:
                self.app.notify(problem, severity="warning", timeout=8)

    def _verifying(self) -> bool:
        chain = self.query_one("#chain", Choice).value
        return self.query_one("#verify", Checkbox).value or self._chain_verifies(chain)

    def _chain_verifies(self, chain: str) -> bool:
        """The chain runs its code by itself (`verify = true` in its TOML, as `verified` has)."""
        engine = self.app.engine
        spec = engine.chains.chains.get(chain) if engine is not None else None
        return chain == "verified" or bool(spec is not None and spec.verify and spec.verify.enabled)

    def _wants_example(self) -> bool:
        task = self.query_one("#task", TextArea).text
        if not self._verifying() or not task.strip():
            return False
        from jarvis.chains.verify.extract import extract_checks

        return not extract_checks(task)

    @property
    def running(self) -> bool:
        return self.cancel_event is not None

    @on(Button.Pressed, "#run")
    def start_from_button(self) -> None:
        self.start()

    @on(Button.Pressed, "#cancel")
    def cancel(self) -> None:
        if self.cancel_event is not None:
            self.cancel_event.set()

    def start(self, task: str | None = None, follow_up: FollowUp | None = None) -> None:
        """``follow_up``: ``task`` is a next turn (chains.threads); the task box keeps the first task."""
        if task is not None and follow_up is None:
            self.query_one("#task", TextArea).text = task
        task = (task if task is not None and follow_up else self.query_one("#task", TextArea).text).strip()
        if not task:
            self.app.notify("Type a task first.", severity="warning")
            return
        if self.app.engine is None:
            self._start_when_ready = True
            self.app.notify("Still looking for models; the run starts as soon as that is done.")
            return
        if self.running or self._confirming:
            self.app.notify("A run is already going; esc cancels it.", severity="warning")
            return
        chain = self.query_one("#chain", Choice).value
        strategy = self.query_one("#strategy", Choice).value
        model = self.query_one("#model", Input).value.strip() or None
        no_fallback = self.query_one("#no-fallback", Checkbox).value
        if no_fallback and model is None:
            self.app.notify(
                "'This model only' needs a model in the override field (e.g. ollama/qwen2.5-coder:7b).",
                severity="warning",
            )
            return
        # A regenerated turn asks what its original asked: the cache would hand back the same answer.
        use_cache = not self.query_one("#no-cache", Checkbox).value and follow_up is None
        verify = self._verifying()
        examples = self._example(task) if verify else ()
        if examples is None:
            return
        self.app.save_settings(
            chain=chain, strategy=strategy, verify=self.query_one("#verify", Checkbox).value
        )
        from jarvis.chains.run_options import RunOptions

        options = RunOptions(
            chain=chain,
            strategy=strategy,
            model=model,
            no_fallback=no_fallback,
            use_cache=use_cache,
            verify=True if verify else None,
            examples=examples,
            follow_up=follow_up,
            context=self.query_one(ContextPanel).project_context(self.app.engine.paths.data_dir / "repomap"),
        )
        if follow_up is not None:  # the earlier turn's files again, as they are on disk now
            from ..thread_commands import with_files

            options = with_files(options, follow_up, self.app.engine.paths.data_dir / "repomap")
        if verify and not self.app.engine.paths.verify_notice.exists():
            self._confirming = True  # before the worker starts: a quick second ctrl+r waits for it too
            self.confirm_then_run(task, options)
            return
        self._launch(task, options)

    def _example(self, task: str) -> tuple[str, ...] | None:
        """The example typed when asked, checked: () when none, None (after saying why) when it is bad."""
        field = self.query_one("#example", Input)
        text = field.value.strip()
        if not text or not self._wants_example():
            return ()
        from jarvis.chains.verify.extract import example_check, guess_entry_point

        try:
            example_check(text, entry_point=guess_entry_point(task))
        except ValueError as err:
            self.app.notify(f"The example cannot be used: {err}.", severity="warning", timeout=8)
            field.focus()
            return None
        return (text,)

    @work(
        group="run-confirm", exclusive=True, exit_on_error=False, description="confirm the first verified run"
    )
    async def confirm_then_run(self, task: str, options: RunOptions) -> None:
        """Before generated code first runs here: say what runs and how it is confined, once."""
        try:
            agreed = await acknowledged(self.app)
        finally:
            self._confirming = False
        if not agreed:
            self.app.notify("Not run: verify is on. Turn it off to run without executing the code.")
            return
        self._launch(task, replace(options, confinement_notice=True))

    def _launch(self, task: str, options: RunOptions) -> None:
        self.cancel_event = asyncio.Event()
        self.query_one("#run", Button).disabled = True
        self.query_one("#cancel", Button).disabled = False
        self.run_chain(task, options)

    @work(group="run", exclusive=True, exit_on_error=False, description="run a chain")
    async def run_chain(self, task: str, options: RunOptions) -> None:
        from jarvis.chains import events as ev

        steps = self.query_one("#steps", VerticalScroll)
        await steps.remove_children()
        self.panes.clear()
        self.last_result = None
        self.check_displays = []
        self.verification = None
        await steps.mount_all(earlier_turns(options.follow_up, task))  # a follow-up: the turns before it
        try:
            finished = None
            async for event in self.app.engine.orchestrator.run(task, options, self.cancel_event):
                await self.render_event(event, ev, steps)
                finished = event if isinstance(event, ev.RunFinished) else finished
            if finished is not None:  # after the run has ended: only then are its files recorded
                await self._show_edits(finished.run_id, steps)
        finally:
            self.cancel_event = None
            self.query_one("#run", Button).disabled = False
            self.query_one("#cancel", Button).disabled = True
            self.app.runs_changed()

    async def render_event(self, event, ev, steps: VerticalScroll) -> None:
        from jarvis.chains.context.in_step import ContextFitted
        from jarvis.chains.verify import events as vev

        if isinstance(event, ContextFitted):
            self.query_one(ContextPanel).show_fit(event)
        elif isinstance(event, (vev.ChecksFound, vev.CandidateChecked, vev.VerificationFinished)):
            await self._render_verification(event, vev, steps)
        elif isinstance(event, ev.TokenDelta):
            self.panes[event.step_id].add_text(event.text)
        elif isinstance(event, ev.RunStarted):
            self.run_id = event.run_id
            a = event.analysis
            await steps.mount(
                Static(
                    f"{event.run_id} · chain {event.chain} · {a.task_type}"
                    f"{' · ' + a.language if a.language else ''}",
                    classes="notice",
                )
            )
        elif isinstance(event, ev.StepStarted):
            round_ = f" (round {event.round})" if event.round else ""
            pane = StepPane(
                event.step_id,
                f"{event.role}{round_} · {event.model_id}",
                event.reason,
                clock=self.app.stopwatch,
            )
            self.panes[event.step_id] = pane
            await steps.mount(pane)
            steps.scroll_end(animate=False)
        elif isinstance(event, ev.Notice):
            if event.step_id in self.panes:
                self.panes[event.step_id].add_notice(event.text)
            else:
                await steps.mount(Static(f"! {event.text}", classes="notice", markup=False))
        elif isinstance(event, ev.FallbackTaken):
            pane = self.panes.get(event.step_id)
            to = f"continuing on {event.to_model}" if event.to_model else "no model left to try"
            kept = f" ({len(event.partial_text)} characters kept above)" if event.partial_text else ""
            if pane:
                pane.add_text(f"\n\n[{event.from_model} failed: {event.error_kind}{kept}; {to}]\n\n")
                if event.to_model:
                    pane.set_title(f"{pane.title.split(' · ')[0]} · {event.to_model} (fallback)")
        elif isinstance(event, ev.StepFinished):
            pane = self.panes[event.step_id]
            await pane.finish(event.status, event.usage.as_json())
            await pane.mount(RatingBar(event.step_id, label=f"Rate {event.role}"))
        elif isinstance(event, ev.RunFinished):
            self.last_result = event.result.as_json()
            panel = self._result_panel(event)
            await steps.mount(panel)
            box = FollowUpBox(event.run_id)
            await steps.mount(box)
            if not steps.query("#edits"):  # a diff to review takes the keys first (a applies)
                box.focus()
            steps.scroll_end(animate=False)
            # On a short terminal the result, its rating and the follow-up box do not fit together:
            # the outcome line ("✓ Finished in …") stays in view, the rest is a scroll away.
            self.call_after_refresh(steps.scroll_to_widget, panel, animate=False, top=True)
        elif isinstance(event, ev.RunFailed):
            self.app.notify(event.message, severity="error", timeout=10)
            await steps.mount(Static(f"✗ {event.message}", classes="notice", markup=False))
            for pane in self.panes.values():
                if pane.status == "running":
                    await pane.finish("failed")
        elif isinstance(event, ev.RunCancelled):
            for pane in self.panes.values():
                if pane.status == "running":
                    await pane.finish("cancelled")
            await steps.mount(Static(f"✗ {event.run_id} cancelled.", classes="notice"))

    async def _show_edits(self, run_id: str, steps: VerticalScroll) -> None:
        """When the answer edits attached files: their diffs, applied with `a` after a confirm."""
        from ..edits_console import review_run
        from .diff_view import DiffView

        review = await review_run(self.app.engine.ledger, run_id)
        if review is not None:
            view = DiffView(run_id, review, id="edits")
            boxes = steps.query(FollowUpBox)
            await steps.mount(view, before=boxes.last() if boxes else None)  # above the follow-up box
            view.focus()

    @on(FollowUpBox.Sent)
    def send_follow_up(self, event: FollowUpBox.Sent) -> None:
        self.follow_up(event.box, event.run_id, event.text, event.fork)

    @work(group="run-follow-up", exclusive=True, exit_on_error=False, description="continue a run")
    async def follow_up(self, box: FollowUpBox, run_id: str, text: str, fork: bool) -> None:
        from jarvis.chains import threads

        if self.running:
            self.app.notify("A run is already going; esc cancels it.", severity="warning")
            box.reopen()
            return
        try:
            start = threads.fork_run if fork else threads.continue_run
            follow = await start(self.app.engine.ledger, run_id)
        except threads.ThreadError as err:
            self.app.notify(str(err), severity="warning", timeout=8)
            box.reopen()
            return
        self.start(text, follow_up=follow)

    async def offer_fork(self, follow_up: FollowUp, run_id: str) -> None:
        """From History: the turns up to ``run_id``, and a box for the new thread's first task."""
        steps = self.query_one("#steps", VerticalScroll)
        await steps.remove_children()
        await steps.mount_all(earlier_turns(follow_up, "type it below")[:-1])
        box = FollowUpBox(run_id, fork=True)
        await steps.mount(box)
        box.focus()

    async def _render_verification(self, event, vev, steps: VerticalScroll) -> None:
        if isinstance(event, vev.ChecksFound):
            self.check_displays = [c["display"] for c in event.checks]
            await steps.mount(ChecksBox(event.checks, event.entry_point, event.tier, event.limits))
        elif isinstance(event, vev.CandidateChecked):
            box = CandidateBox(event, self.check_displays)
            pane = self.panes.get(event.step_id or "")
            if pane is None:
                await steps.mount(box)
            elif bars := pane.query(RatingBar):
                await pane.mount(box, before=bars.first())  # the candidate's results above its rating
            else:
                await pane.mount(box)
        else:
            self.verification = event
        steps.scroll_end(animate=False)

    def _result_panel(self, event) -> Vertical:
        result = event.result.as_json()
        verdict = result.get("verdict")
        lines = [f"✓ Finished in {event.total_s:.1f} s · cost ${event.cost_usd:.4f}"]
        if self.verification is not None:
            lines.append(verdict_text(self.verification))
        if verdict:
            lines.append(f"Review: {verdict['decision']}" + "".join(f"\n  - {i}" for i in verdict["issues"]))
        blocks = result.get("code_blocks") or []
        for b in blocks:
            lines.append(
                f"{b['filename']} ({b['language'] or 'text'}, {len(b['code'].splitlines())} lines)"
                + (f" — syntax error: {b['syntax_error']}" if b.get("syntax_error") else "")
            )
        children = [Static("\n".join(lines), markup=False)]
        if self.verification is not None and blocks:  # the code that was run, under its verdict
            from rich.syntax import Syntax

            code = ran_code(blocks, self.verification.record.get("entry_point"))
            if len(blocks) > 1:  # the answer had more code than was run: say which one the verdict is for
                children.append(Static("The block that was run against the checks:", classes="notice"))
            children.append(
                Static(
                    Syntax(code, "python", theme="ansi_dark", background_color="default"), id="winning-code"
                )
            )
        if blocks:
            children.append(
                Horizontal(
                    Button("Copy code", id="copy-code"),
                    Button("Save files", id="save-code"),
                    classes="code-actions",
                )
            )
        children.append(RatingBar(event.run_id, label="Rate this run"))
        return Vertical(*children, id="result")

    @on(Button.Pressed, "#copy-code")
    def copy_code(self) -> None:
        blocks = (self.last_result or {}).get("code_blocks") or []
        self.app.copy_to_clipboard("\n\n".join(b["code"] for b in blocks))
        self.app.notify(f"Copied {len(blocks)} code block(s) to the clipboard.")

    @on(Button.Pressed, "#save-code")
    def save_code(self) -> None:
        blocks = (self.last_result or {}).get("code_blocks") or []
        folder = Path.cwd() / "jarvis-output" / (self.run_id or "run")
        saved = []
        for b in blocks:
            target = (folder / b["filename"]).resolve()
            if folder.resolve() not in target.parents:  # a model-suggested name must not escape the folder
                target = folder / Path(b["filename"]).name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(b["code"] + "\n", encoding="utf-8")
            saved.append(str(target))
        self.app.notify("Saved " + ", ".join(saved))


def ran_code(blocks: list[dict], entry_point: str | None) -> str:
    """Of the winner's code blocks, the one the sandbox ran (chosen as the verified chain chooses)."""
    from jarvis.chains.verify.task_checks import candidate_code

    answer = "\n\n".join(f"```{b['language'] or ''}\n{b['code']}\n```" for b in blocks)
    return candidate_code(answer, entry_point) or "\n\n".join(b["code"] for b in blocks)
