"""The Keys panel in the Models view, driven with Pilot: add two keys (masked), test one against the
loopback endpoint, remove one; the running engine's next request uses what the panel stored."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, Static

from jarvis.app.tui.keys_panel import KeysPanel
from jarvis.chains.run_options import RunOptions
from tests.tui.helpers import click, make_app, ready, wait_until

pytestmark = pytest.mark.slow  # a loopback server and litellm

KEY_A = "sk-test-AAAAAAAAAAAAAAAAAAAAfirst"
KEY_B = "sk-test-BBBBBBBBBBBBBBBBBBBsecond"


def said(panel) -> str:
    return str(panel.query_one("#keys-said", Static).render())


def table_rows(panel) -> list[list[str]]:
    table = panel.query_one(DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def add(pilot, panel, name: str, secret: str) -> None:
    panel.query_one("#key-name", Input).value = name
    panel.query_one("#key-secret", Input).value = secret
    await click(pilot, "#key-add")
    await wait_until(pilot, lambda: f"key '{name}'" in said(panel), 60, f"the key {name} stored")


async def test_add_test_remove_from_the_models_view(cloud_server, key_env):
    cloud_server.keys = {KEY_A: "ok"}
    config = {
        "ollama": {"enabled": False},
        "lmstudio": {"enabled": False},
        "cloud": {"enabled": True, "models": ["openai/gpt-4o-mini"], "api_base": cloud_server.url},
    }
    app = make_app(key_env, config)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("f4")
        await click(pilot, "#models-keys")
        await wait_until(pilot, lambda: isinstance(app.screen, KeysPanel), 30, "the Keys panel")
        panel = app.screen
        assert panel.query_one("#key-secret", Input).password, "the key is typed masked"
        assert not panel.query_one("#passphrase-row").display, "the passphrase comes from the environment"

        await add(pilot, panel, "first", KEY_A)
        assert panel.query_one("#key-secret", Input).value == "", "the key is not left in the box"
        await add(pilot, panel, "second", KEY_B)
        await wait_until(pilot, lambda: len(table_rows(panel)) == 2, 30, "two rows")
        assert [r[:4] for r in table_rows(panel)] == [
            ["openai", "first", "…irst", "file"],
            ["openai", "second", "…cond", "file"],
        ]

        await click(pilot, "#key-test")  # the cursor is on the first row
        await wait_until(pilot, lambda: "openai/first: ok" in said(panel), 60, "the test result")
        await wait_until(pilot, lambda: table_rows(panel)[0][5] == "ok", 30, "the status column")
        panel.query_one(DataTable).move_cursor(row=1)
        await click(pilot, "#key-test")
        await wait_until(pilot, lambda: "openai/second: rejected" in said(panel), 60, "the rejection")

        # The engine that is running uses the stored keys at once (the second is rejected: rotated past).
        cloud_server.keys = {KEY_B: "ok"}
        cloud_server.seen.clear()
        options = RunOptions(model="cloud/openai/gpt-4o-mini", no_fallback=True, use_cache=False)
        events = [e async for e in app.engine.orchestrator.run("Say pong.", options)]
        assert events[-1].status == "completed" and cloud_server.seen == [KEY_A, KEY_B]

        panel.query_one(DataTable).move_cursor(row=0)
        await click(pilot, "#key-remove")
        await wait_until(pilot, lambda: "Removed openai key 'first'" in said(panel), 60, "the removal")
        await wait_until(pilot, lambda: len(table_rows(panel)) == 1, 30, "one row left")
        await click(pilot, "#keys-close")
        await wait_until(pilot, lambda: not isinstance(app.screen, KeysPanel), 30, "the panel to close")
