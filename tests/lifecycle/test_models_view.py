"""The Models view's lifecycle actions with Pilot, against the Ollama test server: pull with a progress
bar, load (the "loaded now" column shows its memory), unload, delete with confirmation; a pull cut
mid-way; a delete refused while a run uses the model."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, ProgressBar

from jarvis.app.tui.ask import AskText, Confirm
from jarvis.app.tui.models_view import COLUMNS, ModelsView
from jarvis.app.tui.pull_bar import PullBar
from tests.conftest import dead_url
from tests.tui.helpers import make_app, ready, told_by, wait_until

LOADED = COLUMNS.index("loaded now")


@pytest.fixture
def app(isolated_home, ollama_url):
    config = {
        "ollama": {"hosts": [{"name": "ollama", "url": ollama_url}]},
        "lmstudio": {"url": dead_url()},
        "embedded": {"enabled": False},
    }
    return make_app(isolated_home, config)


async def models_view(pilot, app) -> tuple[ModelsView, DataTable]:
    await ready(pilot, app)
    await pilot.press("f4")
    view = app.query_one(ModelsView)
    table = view.query_one(DataTable)
    await wait_until(pilot, lambda: table.row_count >= 2, 30, "the models table")
    table.focus()
    return view, table


def cell(table: DataTable, model_id: str) -> str:
    return str(table.get_row(model_id)[LOADED]) if model_id in table.rows else ""


async def highlight(pilot, table: DataTable, model_id: str) -> None:
    table.move_cursor(row=table.get_row_index(model_id))
    await pilot.pause()


async def pull(pilot, app, name: str) -> None:
    await pilot.press("p")
    await wait_until(pilot, lambda: isinstance(app.screen, AskText), 10, "the pull prompt")
    await pilot.press(*name, "enter")


async def test_pull_load_unload_delete(app, ollama_url):
    name = "fake-tui:1b-size16m-rate8m"
    mid = f"ollama/{name}"
    async with app.run_test(size=(160, 45)) as pilot:
        view, table = await models_view(pilot, app)
        await pull(pilot, app, name)
        # A progress bar for the running pull, moving, naming the host.
        await wait_until(pilot, lambda: view.query(PullBar), 10, "the pull's progress bar")
        bar = view.query_one(PullBar)
        assert bar.host == f"ollama at {ollama_url}"
        await wait_until(pilot, lambda: (bar.query_one(ProgressBar).progress or 0) > 0, 20, "progress")
        assert bar.query_one(ProgressBar).total == 16 * 1024 * 1024
        await wait_until(pilot, lambda: mid in table.rows, 60, "the pulled model in the table")
        assert not view.query(PullBar)
        told = told_by(app)
        assert any("needs" in t and "free" in t for t in told), "the fit, in numbers, before it lands"
        assert f"Pulled {name} to ollama at {ollama_url}." in told

        await highlight(pilot, table, mid)
        await pilot.press("l")
        await wait_until(pilot, lambda: cell(table, mid).endswith("MB"), 30, "loaded now with its memory")
        await pilot.press("u")
        await wait_until(pilot, lambda: cell(table, mid) == "-", 30, "unloaded")

        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), 10, "the confirmation")
        await pilot.press("n")  # no: nothing happens
        await pilot.pause(0.3)
        assert mid in table.rows
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), 10, "the confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: mid not in table.rows, 30, "the model gone from the table")
        assert f"Deleted {name} from ollama at {ollama_url}." in told_by(app)


async def test_pull_cut_midway_and_delete_in_use(app):
    name = "fake-tui:cut-size8m-rate16m-fail30"
    async with app.run_test(size=(160, 45)) as pilot:
        view, table = await models_view(pilot, app)
        await pull(pilot, app, name)
        await wait_until(
            pilot, lambda: any("stopped after" in t for t in told_by(app)), 30, "the failure sentence"
        )
        [sentence] = [t for t in told_by(app) if "stopped after" in t]
        assert "Nothing was registered" in sentence
        await wait_until(pilot, lambda: not view.query(PullBar), 10, "the bar to go")
        assert f"ollama/{name}" not in table.rows

        # A run of this process streaming on the model: deleting it is refused with a sentence.
        ledger = app.engine.ledger
        ledger.start_run("run-tui-busy", "chain", "task", None, None, None)
        ledger.start_step("step-tui-busy", "run-tui-busy", 0, "coder", 0, "ollama/smollm2:135m", "ollama", "")
        await highlight(pilot, table, "ollama/smollm2:135m")
        await pilot.press("d")
        await wait_until(
            pilot, lambda: any("in use by a running run" in t for t in told_by(app)), 10, "refusal"
        )
        assert not isinstance(app.screen, Confirm)
        assert "ollama/smollm2:135m" in table.rows
        ledger.finish_run("run-tui-busy", "completed")


async def test_cancel_a_running_pull(app):
    name = "fake-tui:slow-size64m-rate2m"
    async with app.run_test(size=(160, 45)) as pilot:
        view, table = await models_view(pilot, app)
        await pull(pilot, app, name)
        await wait_until(pilot, lambda: view.query(PullBar), 10, "the bar")
        bar = view.query_one(PullBar)
        await wait_until(pilot, lambda: (bar.query_one(ProgressBar).progress or 0) > 0, 20, "progress")
        await pilot.click(bar.query_one(".pull-cancel"))
        await wait_until(pilot, lambda: any("was cancelled" in t for t in told_by(app)), 10, "the cancel")
        await wait_until(pilot, lambda: not view.query(PullBar), 10, "the bar to go")
        assert f"ollama/{name}" not in table.rows


async def test_lmstudio_without_load_endpoint_says_so_with_the_lms_command(isolated_home, openai_url):
    config = {"ollama": {"enabled": False}, "lmstudio": {"url": openai_url}, "embedded": {"enabled": False}}
    app = make_app(isolated_home, config)
    async with app.run_test(size=(160, 45)) as pilot:
        view, table = await models_view(pilot, app)
        mid = "lmstudio/smollm2-135m-instruct"
        await highlight(pilot, table, mid)
        await pilot.press("u")
        await wait_until(pilot, lambda: any("lms unload" in t for t in told_by(app)), 30, "the lms command")
        said = str(view.query_one("#models-action").render())
        assert (
            "does not offer unloading through its REST API" in said
            and "lms unload smollm2-135m-instruct" in said
        )
        # LM Studio's /api/v0 says it is loaded: the column shows it (no memory figure from v0).
        await wait_until(pilot, lambda: cell(table, mid) == "yes", 10, "loaded now from /api/v0")


async def test_the_status_line_shows_what_ollama_has_loaded_now(app, ollama_url):
    # Loaded behind the workbench's back (another client, keep_alive): the line learns it from /api/ps.
    import httpx

    from jarvis.app.tui.status_bar import StatusBar

    async with app.run_test(size=(160, 45)) as pilot:
        await ready(pilot, app)
        bar = app.query_one(StatusBar)
        async with httpx.AsyncClient(base_url=ollama_url) as ollama:
            await ollama.post("/api/generate", json={"model": "smollm2:135m", "keep_alive": "5m"})
            await wait_until(pilot, lambda: bar.loaded == ["ollama/smollm2:135m"], 15, "loaded: smollm2")
            await ollama.post("/api/generate", json={"model": "smollm2:135m", "keep_alive": 0})
            await wait_until(pilot, lambda: bar.loaded == [], 15, "the unload on the line")
