"""Compare view: one prompt to 2-4 models, answers side by side, then vote (blind if you like)."""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static, Switch

from .follow_up_box import FollowUpBox
from .pick_list import PickList
from .rating_bar import RatingBar
from .step_pane import StepPane

LABELS = "ABCD"


def too_few_models(model_ids: list[str]) -> str | None:
    """The sentence for a machine with fewer than two models ready (the embedded one alone)."""
    if len(model_ids) >= 2:
        return None
    have = f"only {model_ids[0]} is ready" if model_ids else "no model is ready"
    return f"Compare needs two models; {have}. See Models (F4)."


class CompareView(Vertical):
    DEFAULT_CSS = """
    CompareView #cmp-controls { height: auto; }
    CompareView #cmp-models { height: 6; }
    CompareView #cmp-row { height: 3; }
    CompareView #panes { height: 1fr; layout: horizontal; }
    CompareView #panes.narrow { layout: vertical; overflow-y: auto; }
    CompareView #panes > StepPane { width: 1fr; height: 1fr; }
    CompareView #panes.narrow > StepPane { width: 100%; height: 16; }
    CompareView #votes { height: 3; }
    CompareView .notice { color: $warning; }
    CompareView #plan { width: 1fr; height: 3; padding-left: 1; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.cancel_event: asyncio.Event | None = None
        self.compare_id: str | None = None
        self.models: list[str] = []
        self.panes: dict[str, StepPane] = {}
        self.voted = False

    def on_mount(self) -> None:
        self.app.view_mounted(self)

    def on_worker_state_changed(self, event) -> None:
        self.app.worker_changed(event)  # worker messages do not bubble: the app says which one failed

    def compose(self) -> ComposeResult:
        with Vertical(id="cmp-controls"):
            yield Input(placeholder="One prompt for every model…", id="prompt")
            yield PickList(id="cmp-models")
            with Horizontal(id="cmp-row"):
                yield Label("blind ", classes="notice")
                yield Switch(value=False, id="blind")
                yield Button("Compare", id="compare", variant="primary")
                yield Button("Cancel", id="cmp-cancel", variant="error", disabled=True)
                yield Static("", id="plan", classes="notice")
        yield Horizontal(id="panes")
        yield Horizontal(id="votes")

    def on_resize(self) -> None:
        self.query_one("#panes").set_class(self.size.width < 100, "narrow")

    def engine_ready(self, model_ids: list[str], settings: dict) -> None:
        self.query_one("#cmp-models", PickList).replace(model_ids)
        self.query_one("#blind", Switch).value = bool(settings.get("blind"))
        self.query_one("#plan", Static).update(too_few_models(model_ids) or "")

    def _offered(self) -> list[str]:
        picker = self.query_one("#cmp-models", PickList)
        return [picker.get_option_at_index(i).value for i in range(picker.option_count)]

    @on(Button.Pressed, "#cmp-cancel")
    def cancel(self) -> None:
        if self.cancel_event is not None:
            self.cancel_event.set()

    @on(Button.Pressed, "#compare")
    def start_from_button(self) -> None:
        self.start()

    def start(self, prompt: str | None = None, models: list[str] | None = None, follow_up=None) -> None:
        """``follow_up``: the next turn of a comparison (chains.threads), each model continuing its own."""
        prompt = prompt if prompt is not None else self.query_one("#prompt", Input).value.strip()
        models = models if models is not None else list(self.query_one("#cmp-models", PickList).selected)
        if not prompt:
            self.app.notify("Type a prompt first.", severity="warning")
            return
        if self.app.engine is None or self.cancel_event is not None:
            self.app.notify("Not ready yet, or a comparison is running.", severity="warning")
            return
        # After the readiness check: before discovery ends the picker is empty, which is not "no model".
        if too_few := too_few_models(self._offered()):
            self.app.notify(too_few, severity="warning", timeout=10)
            return
        if not 2 <= len(models) <= 4:
            self.app.notify("Pick 2 to 4 models to compare.", severity="warning")
            return
        self.app.save_settings(blind=self.query_one("#blind", Switch).value)
        self.cancel_event = asyncio.Event()
        self.query_one("#compare", Button).disabled = True
        self.query_one("#cmp-cancel", Button).disabled = False
        self.run_compare(prompt, models, follow_up)

    @property
    def blind(self) -> bool:
        return self.query_one("#blind", Switch).value

    @work(group="compare", exclusive=True, exit_on_error=False, description="compare models")
    async def run_compare(self, prompt: str, models: list[str], follow_up=None) -> None:
        from jarvis.chains import events as ev
        from jarvis.providers.types import GenerationOptions

        panes_box = self.query_one("#panes", Horizontal)
        votes = self.query_one("#votes", Horizontal)
        await panes_box.remove_children()
        await votes.remove_children()
        await self.query(FollowUpBox).remove()
        self.panes.clear()
        self.models = list(models)
        self.voted = False
        self.compare_id = None
        options = GenerationOptions(max_tokens=512)
        try:
            answers = self.app.engine.orchestrator.compare(
                prompt, models, options, self.cancel_event, follow_up=follow_up
            )
            async for event in answers:
                if isinstance(event, ev.TokenDelta):
                    self.panes[event.step_id].add_text(event.text)
                elif isinstance(event, ev.RunStarted):
                    self.compare_id = event.run_id
                elif isinstance(event, ev.Notice):
                    self.query_one("#plan", Static).update(event.text)
                elif isinstance(event, ev.StepStarted):
                    title = f"{event.role}" if self.blind else f"{event.role} · {event.model_id}"
                    # Several panes stream at once: flush a little less often each (four panes at
                    # 0.25 s measured p99 loop lag 42 ms against 24 ms at 0.5 s; bench.compare_stream).
                    interval = 0.5 if len(models) > 2 else 0.25
                    pane = StepPane(
                        event.step_id,
                        title,
                        flush_interval=interval,
                        fill=True,
                        clock=self.app.stopwatch,
                        phase=interval * len(self.panes) / len(models),
                    )
                    self.panes[event.step_id] = pane
                    await panes_box.mount(pane)
                elif isinstance(event, ev.StepFinished):
                    pane = self.panes[event.step_id]
                    await pane.finish(event.status, event.usage.as_json(), event.error)
                    await pane.mount(RatingBar(event.step_id, label="Rate"))
                elif isinstance(event, ev.RunFinished):
                    await self._vote_bar(votes)
                    await self.mount(FollowUpBox(event.run_id, models=len(models)), after=votes)
                elif isinstance(event, ev.RunFailed):
                    self.app.notify(event.message, severity="error", timeout=10)
                elif isinstance(event, ev.RunCancelled):
                    for pane in self.panes.values():
                        if pane.status == "running":
                            await pane.finish("cancelled")
        finally:
            self.cancel_event = None
            self.query_one("#compare", Button).disabled = False
            self.query_one("#cmp-cancel", Button).disabled = True
            self.app.runs_changed()

    @on(FollowUpBox.Sent)
    def send_follow_up(self, event: FollowUpBox.Sent) -> None:
        self.follow_up(event.box, event.run_id, event.text)

    @work(group="compare-follow-up", exclusive=True, exit_on_error=False, description="continue a comparison")
    async def follow_up(self, box: FollowUpBox, compare_id: str, text: str) -> None:
        from jarvis.chains import threads

        if self.cancel_event is not None:
            self.app.notify("A comparison is running; esc cancels it.", severity="warning")
            box.reopen()
            return
        try:
            follow = await threads.continue_comparison(self.app.engine.ledger, compare_id)
        except threads.ThreadError as err:
            self.app.notify(str(err), severity="warning", timeout=8)
            box.reopen()
            return
        self.start(text, list(follow.models), follow_up=follow)

    async def _vote_bar(self, votes: Horizontal) -> None:
        buttons = [Label("Which was better? ")]
        letters = LABELS[: len(self.models)]
        word = "better" if len(self.models) == 2 else "best"
        buttons += [Button(f"{x} {word}", id=f"vote-{x}") for x in letters]
        buttons += [Button("Tie", id="vote-tie"), Button("Both bad", id="vote-bad")]
        await votes.mount_all(buttons)

    @on(Button.Pressed, "#votes Button")
    def vote(self, event: Button.Pressed) -> None:
        if self.voted or self.compare_id is None:
            return
        winner = (event.button.id or "").split("-", 1)[1]
        self.voted = True
        self.cast_vote(self.compare_id, winner)

    @work(group="feedback", exit_on_error=False, description="record a vote")
    async def cast_vote(self, compare_id: str, winner: str) -> None:
        result = await self.app.record_vote(compare_id, winner)
        for pane in self.panes.values():  # reveal the names once the vote is in
            label = pane.title.split(" · ")[0]
            model = self.models[LABELS.index(label)] if label in LABELS else ""
            pane.set_title(f"{label} · {model}")
        for button in self.query("#votes Button"):
            button.disabled = True
        self.app.notify(f"Vote counted ({len(result['pairs'])} pairwise result(s)).")
