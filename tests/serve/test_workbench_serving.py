"""The workbench sees a `jarvis serve` writing to its database: the status line says what it serves, and
History's `served:` filter lists the served requests with their client and HTTP status."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input

from jarvis.app.tui.history_view import HistoryView
from jarvis.app.tui.status_bar import StatusBar
from jarvis.chains.ledger import Ledger
from jarvis.chains.served_store import heartbeat, mark_served, set_http_status
from tests.tui.helpers import make_app, ready, wait_until


def rows(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def seed(home) -> None:
    """What a `jarvis serve` process leaves in the ledger: a served run and its heartbeat."""
    ledger = Ledger(home / "jarvis.db")
    try:
        ledger.start_run("run_served1", "served", "Explain this regex", None, {"task_type": "explain"}, {})
        mark_served(ledger, "run_served1", client="Zed/0.190 (linux)", requested_model="jarvis/auto")
        ledger.finish_run("run_served1", "completed")
        set_http_status(ledger, "run_served1", 200)
        ledger.start_run("run_local1", "chain", "Write a sort", "default", {}, {})
        heartbeat(ledger, host="127.0.0.1", port=11435, started_at=0, in_flight=2, queued=1, served=7)
    finally:
        ledger.close()


async def test_status_line_and_history_filter_show_served_requests(isolated_home):
    seed(isolated_home)
    app = make_app(isolated_home)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        bar = app.query_one(StatusBar)
        await wait_until(
            pilot, lambda: "serving :11435 · 2 in flight · 1 queued" in bar.text, 15, "the serving note"
        )
        await pilot.press("f5")
        history = app.query_one(HistoryView)
        table = history.query_one(DataTable)
        await wait_until(pilot, lambda: len(rows(table)) == 2, 15, "both runs")
        history.query_one("#history-search", Input).value = "served:"
        await wait_until(pilot, lambda: [r[0] for r in rows(table)] == ["run_served1"], 15, "the filter")
        [row] = rows(table)
        assert row[3] == "completed 200" and row[7].startswith("[Zed/0.190] Explain this regex")
        history.query_one("#history-search", Input).value = "served: nothing-like-this"
        await wait_until(pilot, lambda: rows(table) == [], 15, "an empty filter")


@pytest.mark.slow  # starts a server (in this process)
async def test_serving_from_the_workbench_itself(isolated_home):
    import httpx

    from jarvis.app.tui.serve_toggle import serve_command, toggle_serving
    from tests.conftest import free_port

    app = make_app(isolated_home)
    port = free_port()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        assert serve_command(app).title == "Serve the OpenAI and Ollama APIs"
        await toggle_serving(app, port)
        assert app.api_server.running and serve_command(app).title == "Stop serving the APIs"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            models = (await client.get("/v1/models")).json()["data"]
            assert "embedded/smollm2-135m" in [m["id"] for m in models]
        bar = app.query_one(StatusBar)
        await wait_until(pilot, lambda: f"serving :{port}" in bar.text, 15, "the serving note")
        await toggle_serving(app, port)
        assert not app.api_server.running
        await wait_until(pilot, lambda: "serving" not in bar.text, 15, "the note to go")


@pytest.mark.slow
async def test_stopping_the_workbench_server_ends_a_stream_with_an_error(isolated_home):
    import asyncio

    import httpx

    from jarvis.app.engine import build_engine
    from jarvis.app.paths import resolve_paths
    from jarvis.app.tui.serve_toggle import WorkbenchServer
    from tests.conftest import free_port
    from tests.serve.conftest import EMBEDDED, make_config

    engine = await build_engine(make_config(), resolve_paths()).start()
    server = WorkbenchServer(engine, port=free_port())
    try:
        await server.start()
        body = {"model": EMBEDDED, "messages": [{"role": "user", "content": "Count to 300."}], "stream": True}
        url = f"http://127.0.0.1:{server.port}/v1/chat/completions"
        async with httpx.AsyncClient(timeout=60) as client, client.stream("POST", url, json=body) as r:
            lines = r.aiter_lines()
            while not (await anext(lines)).startswith("data: {"):
                pass
            stopping = asyncio.create_task(server.stop())
            rest = [line async for line in lines]
            await stopping
        errors = [line for line in rest if line.startswith('data: {"error"')]
        assert len(errors) == 1 and "stopping" in errors[0], rest
    finally:
        await server.stop()
        await engine.close()
