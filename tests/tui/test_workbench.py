"""The workbench driven with Pilot: each screen's main flow on real models."""

from __future__ import annotations

import subprocess
import sys

import pytest
from textual.widgets import DataTable, SelectionList, Static, TextArea

from jarvis.app.tui.compare_view import CompareView
from jarvis.app.tui.help_screen import HelpScreen
from jarvis.app.tui.history_view import HistoryView, RunDetail
from jarvis.app.tui.models_view import ModelsView
from jarvis.app.tui.register_model import RegisterModel
from jarvis.app.tui.run_view import RunView
from jarvis.app.tui.stats_view import StatsView
from jarvis.chains.ledger import Ledger
from tests.conftest import dead_url
from tests.tui.helpers import click, make_app, ready, told_by, wait_until

TASK = "Write a Python function that reverses a string."


def rows(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_run_rate_history_and_stats(isolated_home):
    app = make_app(isolated_home)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        run = app.query_one(RunView)
        assert app.focused is run.query_one("#task", TextArea)
        await pilot.press(*"Write a Python function that reverses a string.")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: run.last_result is not None, 90, "the run to finish")
        [pane] = run.panes.values()
        assert pane.status == "completed" and "embedded/smollm2-135m" in pane.title
        assert pane.stream.finished and "def" in pane.stream.text
        assert run.last_result["code_blocks"][0]["filename"].endswith(".py")
        run_id = run.run_id
        # Rate the whole run 5/5 with the result panel's rating bar (scrolled into view, as a person would).
        app.query_one("#result").scroll_visible(animate=False)
        await click(pilot, "#result #star-5")
        ledger = Ledger(isolated_home / "jarvis.db")
        await wait_until(pilot, lambda: ledger.run(run_id)["ratings"], 30, "the rating to be saved")
        assert ledger.run(run_id)["ratings"][0]["score"] == 5
        # History shows it, with its rating; Stats shows the rating against the model.
        await pilot.press("f5")
        history = app.query_one(HistoryView).query_one(DataTable)
        await wait_until(
            pilot, lambda: any(r[0] == run_id and r[5] == "5.0" for r in rows(history)), 30, "history"
        )
        await pilot.press("f6")
        perf = app.query_one(StatsView).query_one("#performance", DataTable)
        await wait_until(pilot, lambda: any("(1)" in r[-1] for r in rows(perf)), 30, "the rating in stats")
        # Open the run from History: it reads exactly as it ran.
        await pilot.press("f5")
        history.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RunDetail), 30, "the run detail")
        assert app.screen.run["id"] == run_id and app.screen.run["steps"][0]["output"] == pane.stream.text
        await pilot.press("escape")


async def test_cancel_mid_stream(isolated_home):
    app = make_app(isolated_home)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        run = app.query_one(RunView)
        run.query_one("#task", TextArea).text = "Write a very long essay about the history of compilers."
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: run.panes and next(iter(run.panes.values())).pieces > 3, 60, "tokens")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not run.running, 30, "the cancel")
        [pane] = run.panes.values()
        assert pane.status == "cancelled"
        await app.engine.ledger.flush()
        assert (await app.engine.ledger.run(run.run_id))["status"] == "cancelled"


async def test_compare_vote_and_leaderboard(isolated_home, ollama_url, openai_url):
    config = {
        "ollama": {"hosts": [{"name": "ollama", "url": ollama_url}]},
        "lmstudio": {"url": openai_url},
        "embedded": {"enabled": False},
    }
    app = make_app(isolated_home, config)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("f3")
        view = app.query_one(CompareView)
        picker = view.query_one(SelectionList)
        picker.select("ollama/smollm2:135m")
        picker.select("lmstudio/smollm2-135m-instruct")
        view.query_one("#blind").value = True
        view.query_one("#prompt").value = "Say hello in one sentence."
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: view.query("#votes Button"), 90, "the vote buttons")
        titles = [p.title for p in view.panes.values()]
        assert titles == ["A", "B"], "blind mode hides the names"
        assert "side by side" in str(view.query_one("#plan", Static).render())
        await click(pilot, "#vote-B")
        await wait_until(pilot, lambda: view.voted, 30, "the click to cast the vote")
        await wait_until(
            pilot, lambda: all(" · " in p.title for p in view.panes.values()), 30, "names revealed"
        )
        await app.engine.ledger.flush()
        votes = await app.engine.ledger.query("SELECT model_a, model_b, outcome FROM votes")
        assert votes == [
            {"model_a": "ollama/smollm2:135m", "model_b": "lmstudio/smollm2-135m-instruct", "outcome": "B"}
        ]
        await pilot.press("f6")
        board = app.query_one(StatsView).query_one("#leaderboard", DataTable)
        await wait_until(pilot, lambda: board.row_count == 2, 30, "the leaderboard")
        assert rows(board)[0][1] == "lmstudio/smollm2-135m-instruct"


async def models_screen(pilot, app) -> tuple[ModelsView, DataTable]:
    """The Models screen with the embedded model listed."""
    await ready(pilot, app)
    await pilot.press("f4")
    view = app.query_one(ModelsView)
    table = view.query_one(DataTable)
    await wait_until(pilot, lambda: table.row_count == 1, 30, "the models table")
    return view, table


async def test_models_screen_without_servers_says_how_to_start_them(isolated_home):
    config = {"ollama": {"hosts": [{"name": "ollama", "url": dead_url()}]}, "lmstudio": {"url": dead_url()}}
    app = make_app(isolated_home, config)
    async with app.run_test(size=(120, 40)) as pilot:
        view, table = await models_screen(pilot, app)
        assert rows(table)[0][0] == "embedded/smollm2-135m"
        note = str(view.query_one("#unreachable", Static).render())
        assert "ollama serve" in note and "lms server start" in note
        view.query_one("#models-filter").value = "nothing-matches"
        await wait_until(pilot, lambda: table.row_count == 0, 30, "the filter")


async def test_register_a_custom_model_from_the_models_screen(isolated_home):
    app = make_app(isolated_home)
    async with app.run_test(size=(120, 40)) as pilot:
        _, table = await models_screen(pilot, app)
        await click(pilot, "#models-register")
        await wait_until(pilot, lambda: isinstance(app.screen, RegisterModel), 30, "the form")
        form = app.screen
        form.query_one("#reg-id").value = "my-finetune"
        await click(pilot, "#register")
        error = form.query_one("#register-error", Static)
        await wait_until(pilot, lambda: "provider/name" in str(error.render()), 30, "the error sentence")
        assert app.screen is form  # still open, nothing typed is lost
        form.query_one("#reg-id").value = "ollama/my-finetune:latest"
        form.query_one("#reg-capabilities").value = "code"
        form.query_one("#reg-context_length").value = "16384"
        button = form.query_one("#register")  # it ignores a second press while it still shows the first
        await wait_until(pilot, lambda: not button.has_class("-active"), 30, "the first press to end")
        await click(pilot, button)
        await wait_until(pilot, lambda: not isinstance(app.screen, RegisterModel), 30, "the form to close")
        await wait_until(pilot, lambda: table.row_count == 2, 30, "the new row")
        row = next(r for r in rows(table) if r[0] == "ollama/my-finetune:latest")
        assert row[2] == "16384" and "code" in row[4] and row[7] == "unavailable"
        saved = (isolated_home / "config.toml").read_text()
        assert 'id = "ollama/my-finetune:latest"' in saved and "context_length = 16384" in saved
        await click(pilot, "#models-register")  # the same id again is refused with a sentence
        await wait_until(pilot, lambda: isinstance(app.screen, RegisterModel), 30, "the form")
        app.screen.query_one("#reg-id").value = "ollama/my-finetune:latest"
        await click(pilot, "#register")
        error = app.screen.query_one("#register-error", Static)
        await wait_until(pilot, lambda: "already registered" in str(error.render()), 30, "the refusal")


@pytest.mark.slow  # starts a process to have a pid that is surely gone
async def test_interrupted_run_is_shown_as_interrupted(isolated_home):
    ledger = Ledger(isolated_home / "jarvis.db")
    ledger.start_run("run_killed", "chain", "an old task", "default", {"task_type": "chat"}, {})
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    ledger.db.execute("UPDATE runs SET pid=? WHERE id='run_killed'", [gone.pid])
    ledger.db.conn.commit()
    app = make_app(isolated_home)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("f5")
        table = app.query_one(HistoryView).query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count == 1, 30, "history")
        assert rows(table)[0][3] == "interrupted"
        assert any("interrupted" in message for message in told_by(app))


async def test_help_and_bad_input_are_sentences(isolated_home):
    app = make_app(isolated_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("ctrl+r")  # nothing typed
        assert any("Type a task first" in message for message in told_by(app))
        run = app.query_one(RunView)
        run.query_one("#task", TextArea).text = "hi"
        run.query_one("#model").value = "ollama/nope:1b"
        await pilot.press("ctrl+r")
        await wait_until(
            pilot,
            lambda: any("No model 'ollama/nope:1b'" in m for m in told_by(app)),
            20,
            "the error notification",
        )
        assert app.current_tab == "run"


async def test_compare_with_only_the_embedded_model_says_how_to_get_another(isolated_home):
    app = make_app(isolated_home)  # Ollama and LM Studio off: a fresh machine
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        await pilot.press("f3")
        view = app.query_one(CompareView)
        plan = view.query_one("#plan", Static)
        await wait_until(
            pilot,
            lambda: "only embedded/smollm2-135m is ready" in str(plan.render()),
            30,
            "the sentence next to the Compare button",
        )
        view.query_one("#prompt").value = "Say hello."
        await pilot.press("ctrl+r")
        assert any(message.startswith("Compare needs two models") for message in told_by(app))
        assert not view.panes and view.cancel_event is None, "nothing started"


async def test_narrow_terminal_stacks_compare_panes(isolated_home):
    app = make_app(isolated_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        await pilot.press("f3")
        await wait_until(pilot, lambda: app.view("compare") is not None, 30, "the Compare view")
        panes = app.query_one(CompareView).query_one("#panes")
        await wait_until(pilot, lambda: panes.has_class("narrow"), 30, "80 columns to stack the panes")
        await pilot.resize_terminal(160, 40)
        await wait_until(pilot, lambda: not panes.has_class("narrow"), 30, "160 columns: side by side")


async def test_settings_survive_a_restart(isolated_home):
    from textual.widgets import Switch

    from jarvis.app.tui.choice import Choice

    app = make_app(isolated_home)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        app.save_settings(chain="code", strategy="quality", blind=True)
    again = make_app(isolated_home)
    async with again.run_test(size=(120, 40)) as pilot:
        await ready(pilot, again)
        run = again.query_one(RunView)
        assert run.query_one("#chain", Choice).value == "code"
        assert run.query_one("#strategy", Choice).value == "quality"
        await pilot.press("f3")
        assert again.query_one(CompareView).query_one("#blind", Switch).value is True


@pytest.mark.slow  # a fresh interpreter, to see what it imports
def test_workbench_never_imports_litellm_without_cloud_models(isolated_home):
    code = """
import asyncio, sys
from tests.tui.helpers import idle, make_app, ready, wait_until
async def main():
    app = make_app(sys.argv[1])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot, app)
        await pilot.press("f3", "f4", "f5", "f6")
        await wait_until(pilot, lambda: app.current_tab == "stats", 30, "the Stats view")
        await idle(pilot)
    assert "litellm" not in sys.modules, "litellm was imported"
    assert app.engine is not None
asyncio.run(main())
"""
    from tests.conftest import REPO

    subprocess.run([sys.executable, "-c", code, str(isolated_home)], check=True, cwd=REPO, timeout=120)
