"""SVG snapshots of the workbench at fixed sizes, over the real engine with scripted models
(tests/tui/scripted.py).

Review a changed snapshot with the HTML report pytest writes on failure; accept it with
`.venv/bin/python -m pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input, Markdown, TextArea

from jarvis.app.tui.choice import Choice
from jarvis.app.tui.compare_view import CompareView
from jarvis.app.tui.help_screen import HelpScreen
from jarvis.app.tui.history_view import HistoryView, RunDetail
from jarvis.app.tui.models_view import ModelsView
from jarvis.app.tui.register_model import RegisterModel
from jarvis.app.tui.run_view import RunView
from jarvis.app.tui.stats_view import StatsView
from jarvis.app.tui.status_bar import StatusBar
from tests.tui.helpers import click, idle, ready, wait_until
from tests.tui.scripted import scripted_app

pytestmark = pytest.mark.snapshot

TASK = "Write a Python function that reverses a string."
PROMPT = "How do I build a list of the first ten squares in Python?"


def shot(snap_compare, app, size: tuple[int, int], before=None) -> bool:
    """The snapshot once the app has settled and `before` has run, without what runs on wall-clock
    time: toasts expire and cursors blink."""

    def no_blink() -> None:
        for widget in app.screen.query("Input, TextArea"):
            widget.cursor_blink = False
            widget.refresh()

    async def run_before(pilot) -> None:
        # Blink off before anything happens, not only at the end: with blink off TextArea looks up
        # its cached lines under the same key as in the blink's dark phase, so a line cached then
        # came back without the cursor (it depended on timing which one the snapshot got).
        no_blink()
        await settled(pilot)
        if before is not None:
            await before(pilot)
        no_blink()  # fields mounted since
        app.clear_notifications()
        await wait_until(pilot, lambda: not app.screen.query("Toast"), 30, "the toasts to go")

    return snap_compare(app, terminal_size=size, run_before=run_before)


async def settled(pilot) -> None:
    """Engine up, memory read, views filled, nothing left to paint."""
    app = pilot.app
    await ready(pilot, app)
    status = app.query_one(StatusBar)
    await wait_until(
        pilot, lambda: "model(s) ready" in status.text and "GiB" in status.text, 20, "the status line"
    )
    await idle(pilot)
    await pilot.wait_for_scheduled_animations()


async def run_chain(pilot, chain: str = "code") -> RunView:
    run = pilot.app.query_one(RunView)
    run.query_one("#task", TextArea).text = TASK
    run.query_one("#chain", Choice).value = chain
    await pilot.press("ctrl+r")
    return run


async def finished_run(pilot) -> RunView:
    run = await run_chain(pilot)
    await wait_until(pilot, lambda: run.last_result is not None, 30, "the run to finish")
    return run


async def models_screen(pilot) -> None:
    await pilot.press("f4")
    view = pilot.app.query_one(ModelsView)
    await wait_until(pilot, lambda: len(view.rows) == 4, 20, "the models table")


async def history_screen(pilot, rows: int) -> HistoryView:
    await pilot.press("f5")
    view = pilot.app.query_one(HistoryView)
    table = view.query_one("#history-table")
    await wait_until(pilot, lambda: table.row_count == rows, 20, "the history rows")
    return view


async def flushed(pilot, panes) -> None:
    """Every pane has shown all it received and counted it (flushes and stats run on the panes' timers)."""

    def shown(pane) -> bool:
        counted = f" {pane.pieces} tok" in pane.query_one("#stats").text
        return not pane.stream._buffer and pane.pieces and counted

    await wait_until(pilot, lambda: all(shown(p) for p in panes), 20, "the panes to flush")


async def compare(pilot, models: list[str], blind: bool) -> CompareView:
    await pilot.press("f3")
    view = pilot.app.query_one(CompareView)
    await wait_until(pilot, lambda: view.query_one("#cmp-models").option_count > 0, 20, "the model list")
    view.query_one("#prompt", Input).value = PROMPT
    view.query_one("#blind").value = blind
    for model in models:
        view.query_one("#cmp-models").select(model)
    view.start()
    return view


async def finished_compare(pilot, models: list[str], blind: bool) -> CompareView:
    view = await compare(pilot, models, blind)
    await wait_until(
        pilot, lambda: view.cancel_event is None and bool(view.query("#votes Button")), 30, "the vote bar"
    )
    await idle(pilot)
    return view


def test_run_view_at_startup_80x24(snap_compare, isolated_home, monkeypatch):
    app, _ = scripted_app(isolated_home, monkeypatch)
    assert shot(snap_compare, app, (80, 24))


def test_help_screen(snap_compare, isolated_home, monkeypatch):
    app, _ = scripted_app(isolated_home, monkeypatch)

    async def before(pilot):
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), 20, "the help screen")
        await idle(pilot)

    assert shot(snap_compare, app, (100, 32), before)


def test_code_chain_planner_streaming(snap_compare, isolated_home, monkeypatch):
    app, provider = scripted_app(isolated_home, monkeypatch, gate=True)

    async def before(pilot):
        run = await run_chain(pilot)
        await wait_until(
            pilot, lambda: provider.halfway == 1 and len(run.panes) == 1, 20, "the planner halfway"
        )
        await flushed(pilot, run.panes.values())

    assert shot(snap_compare, app, (120, 36), before)
    provider.gate.set()


def test_code_chain_finished_with_result_and_ratings(snap_compare, isolated_home, monkeypatch):
    app, _ = scripted_app(isolated_home, monkeypatch)

    async def before(pilot):
        await finished_run(pilot)
        await idle(pilot)

    assert shot(snap_compare, app, (120, 50), before)


def test_compare_four_models_blind_streaming(snap_compare, isolated_home, monkeypatch):
    app, provider = scripted_app(isolated_home, monkeypatch, gate=True)
    models = ["local/coder-7b", "local/writer-3b", "local/tiny-1b", "local/reasoner-14b"]

    async def before(pilot):
        view = await compare(pilot, models, blind=True)
        await wait_until(
            pilot, lambda: provider.halfway == 4 and len(view.panes) == 4, 20, "four panes halfway"
        )
        await flushed(pilot, view.panes.values())

    assert shot(snap_compare, app, (160, 36), before)
    provider.gate.set()


def test_compare_finished_blind_vote_bar(snap_compare, isolated_home, monkeypatch):
    app, _ = scripted_app(isolated_home, monkeypatch)

    async def before(pilot):
        await finished_compare(pilot, ["local/coder-7b", "local/writer-3b"], blind=True)

    assert shot(snap_compare, app, (120, 36), before)


def test_compare_after_the_vote_names_are_revealed(snap_compare, isolated_home, monkeypatch):
    app, _ = scripted_app(isolated_home, monkeypatch)

    async def before(pilot):
        view = await finished_compare(pilot, ["local/coder-7b", "local/writer-3b"], blind=True)
        await click(pilot, "#vote-A")
        await wait_until(pilot, lambda: "·" in next(iter(view.panes.values())).title, 20, "the names")
        await idle(pilot)

    assert shot(snap_compare, app, (120, 36), before)


def test_compare_stacked_on_a_narrow_terminal(snap_compare, isolated_home, monkeypatch):
    app, _ = scripted_app(isolated_home, monkeypatch)

    async def before(pilot):
        await finished_compare(pilot, ["local/coder-7b", "local/tiny-1b"], blind=False)

    assert shot(snap_compare, app, (80, 40), before)


def test_models_with_providers_not_running(snap_compare, isolated_home, monkeypatch):
    app, _ = scripted_app(isolated_home, monkeypatch)

    async def before(pilot):
        await models_screen(pilot)
        await idle(pilot)

    assert shot(snap_compare, app, (140, 32), before)


def test_history_after_a_run_and_a_comparison(snap_compare, isolated_home, monkeypatch):
    app, _ = scripted_app(isolated_home, monkeypatch)

    async def before(pilot):
        await finished_run(pilot)
        await finished_compare(pilot, ["local/coder-7b", "local/writer-3b"], blind=False)
        await history_screen(pilot, rows=2)
        await idle(pilot)

    assert shot(snap_compare, app, (120, 24), before)


def test_history_run_opened_as_it_ran(snap_compare, isolated_home, monkeypatch):
    app, _ = scripted_app(isolated_home, monkeypatch)

    async def before(pilot):
        await finished_run(pilot)
        view = await history_screen(pilot, rows=1)
        view.open("run_1")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, RunDetail), 20, "the run detail")
        # Not idle(): History's open worker waits for this screen to close.
        markdown = pilot.app.screen.query_one(Markdown)
        await wait_until(pilot, lambda: bool(markdown.children), 20, "the run's Markdown")
        await pilot.pause()

    assert shot(snap_compare, app, (120, 40), before)


def test_stats_after_votes_and_ratings(snap_compare, isolated_home, monkeypatch):
    app, _ = scripted_app(isolated_home, monkeypatch)

    async def before(pilot):
        for winner in ("A", "A", "B"):
            view = await finished_compare(pilot, ["local/coder-7b", "local/writer-3b"], blind=False)
            await click(pilot, f"#vote-{winner}")
            await wait_until(pilot, lambda v=view: v.voted and v.cancel_event is None, 20, "the vote")
            await idle(pilot)
        await pilot.press("f6")
        stats = pilot.app.query_one(StatsView)
        await wait_until(pilot, lambda: stats.query_one("#leaderboard").row_count == 2, 20, "the leaderboard")
        await idle(pilot)

    assert shot(snap_compare, app, (130, 50), before)


def test_register_model_form_with_an_error(snap_compare, isolated_home, monkeypatch):
    app, _ = scripted_app(isolated_home, monkeypatch)

    async def before(pilot):
        await models_screen(pilot)
        await click(pilot, "#models-register")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, RegisterModel), 30, "the form")
        form = pilot.app.screen
        form.query_one("#reg-id").value = "ollama/my-finetune:latest"
        form.query_one("#reg-capabilities").value = "code, telepathy"
        await click(pilot, "#register")
        error = form.query_one("#register-error")
        await wait_until(pilot, lambda: "telepathy" in str(error.render()), 30, "the error")
        button = form.query_one("#register")  # drawn pressed for a moment after the click
        await wait_until(pilot, lambda: not button.has_class("-active"), 30, "the button to come back up")
        await idle(pilot)

    assert shot(snap_compare, app, (100, 40), before)


@pytest.mark.slow  # the sandbox's tier probe starts a process
def test_verified_run_finished_with_checks_and_winner(snap_compare, isolated_home, monkeypatch):
    """A verified run: the greedy candidate fails a check (✗), the second passes both and a third
    sample agreeing with it confirms it, the verdict and the winning code under it. The sandbox is
    pinned to the limits-only tier (on every machine) and its stopwatch to the script's clock, so the
    tier and durations on screen do not vary."""
    from jarvis.chains.verify import sandbox as sandbox_module
    from jarvis.chains.verify.sandbox import Sandbox
    from jarvis.chains.verify.tiers import Tier

    app, provider = scripted_app(isolated_home, monkeypatch)
    provider.code = [
        "```python\ndef is_prime(n):\n    return n % 2 == 1\n```\nOdd numbers.",
        "```python\ndef is_prime(n):\n    return n > 1 and all(n % d for d in range(2, n))\n"
        "```\nTrial division.",
    ]
    monkeypatch.setattr(sandbox_module, "time", provider.clock)

    async def before(pilot):
        app.engine.orchestrator.chain_runner.sandbox = Sandbox(tiers=(Tier.LIMITS_ONLY,))
        app.engine.paths.verify_notice.parent.mkdir(parents=True, exist_ok=True)
        app.engine.paths.verify_notice.touch()  # the one-time notice was acknowledged before
        run = pilot.app.query_one(RunView)
        run.query_one("#task", TextArea).text = "write is_prime(n); is_prime(7) is True, is_prime(1) is False"
        run.query_one("#chain", Choice).value = "verified"
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: run.last_result is not None, 60, "the run to finish")
        await idle(pilot)

    assert shot(snap_compare, app, (130, 100), before)
