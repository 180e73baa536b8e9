"""Pilot helpers: build the real workbench over a config, and await conditions instead of sleeping."""

from __future__ import annotations

import time

from textual.widget import Widget

from jarvis.app.config import Config
from jarvis.app.engine import build_engine
from jarvis.app.paths import resolve_paths
from jarvis.app.tui.workbench import WorkbenchApp


async def wait_until(pilot, predicate, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            told = getattr(pilot.app, "notified", [])
            raise AssertionError(f"timed out waiting for {what}" + (f"; the app said: {told[-5:]}" if told else ""))
        await pilot.pause(0.05)


async def click(pilot, target, offset: tuple[int, int] = (0, 0), timeout: float = 30.0) -> None:
    """Click a widget once it is laid out, and fail at the click if it landed on something else.

    Widgets are in the DOM (a query finds them) as soon as a mount starts, before they are laid
    out; until then their region is empty and Pilot clicks at the screen's top-left corner, the
    tab line's "Run". That is how a CI run lost a click on a vote button that had just appeared.
    """
    widget = target if isinstance(target, Widget) else pilot.app.screen.query_one(target)
    await wait_until(pilot, lambda: widget.region.area > 0, timeout, f"{target} to be laid out")
    assert await pilot.click(widget, offset=offset), f"the click at {offset} missed {target}"


def make_app(home, config: dict | None = None) -> WorkbenchApp:
    cfg = Config.model_validate(config or {"ollama": {"enabled": False}, "lmstudio": {"enabled": False}})
    paths = resolve_paths({"JARVIS_HOME": str(home)})

    async def factory():
        return await build_engine(cfg, paths).start()

    app = WorkbenchApp(factory, settings_path=paths.data_dir / "tui.json")
    record_notifications(app)
    return app


def record_notifications(app) -> None:
    """Keep every notification, so a test that times out can say what the user was told."""
    app.notified = []
    show = app.notify

    def notify(message, *args, **kwargs):
        app.notified.append(str(message))
        return show(message, *args, **kwargs)

    app.notify = notify


async def ready(pilot, app) -> None:
    await wait_until(pilot, lambda: app.engine is not None, 60, "the engine")
    await pilot.pause(0.2)
