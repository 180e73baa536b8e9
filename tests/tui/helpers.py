"""Pilot helpers: build the real workbench over a config, and await conditions instead of sleeping."""

from __future__ import annotations

import time

from textual.errors import NoWidget
from textual.widget import Widget

from jarvis.app.config import Config
from jarvis.app.engine import build_engine
from jarvis.app.paths import resolve_paths
from jarvis.app.tui.workbench import WorkbenchApp


async def wait_until(pilot, predicate, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            told = told_by(pilot.app)
            said = f"; the app said: {told[-5:]}" if told else ""
            raise AssertionError(f"timed out waiting for {what}{said}")
        await pilot.pause(0.05)


async def click(pilot, target, offset: tuple[int, int] = (0, 0), timeout: float = 30.0) -> None:
    """Click a widget once it is laid out, and fail at the click if it landed on something else.

    Widgets are in the DOM (a query finds them) as soon as a mount starts, before they are laid
    out; until then their region is empty and Pilot clicks at the screen's top-left corner, the
    tab line's "Run". That is how a CI run lost a click on a vote button that had just appeared.
    """
    widget = target if isinstance(target, Widget) else pilot.app.screen.query_one(target)

    def under_the_pointer() -> bool:  # what Pilot will find at the spot (it wants the widget itself)
        if widget.region.area == 0:
            return False
        spot = widget.region.offset + offset
        try:
            hit, _ = pilot.app.screen.get_widget_at(spot.x, spot.y)
        except NoWidget:
            return False
        return hit is widget

    # Pilot reads the region, lets the app run, then looks under that spot: a panel still being
    # mounted or scrolled (a run's result, scroll_visible) moves the widget away in between. So
    # click once it is under the pointer and stays put across a turn of the app.
    deadline = time.monotonic() + timeout
    while True:
        region = widget.region
        await pilot.pause()
        if under_the_pointer() and widget.region == region:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {target} to be laid out where the click goes")
        await pilot.pause(0.05)
    assert await pilot.click(widget, offset=offset), f"the click at {offset} missed {target}"


def make_app(home, config: dict | None = None) -> WorkbenchApp:
    cfg = Config.model_validate(config or {"ollama": {"enabled": False}, "lmstudio": {"enabled": False}})
    paths = resolve_paths({"JARVIS_HOME": str(home)})

    async def factory():
        return await build_engine(cfg, paths).start()

    return WorkbenchApp(factory, settings_path=paths.tui_settings, on_notify=Told())


class Told(list[str]):
    """Every notification's text in order, heard through the app's `on_notify` hook (what the user
    was told, whether or not its toast has expired)."""

    def __call__(self, message: str, severity: str) -> None:
        self.append(message)


def told_by(app) -> list[str]:
    """What the app has notified so far (empty when it was built without a `Told`)."""
    return app.on_notify if isinstance(getattr(app, "on_notify", None), Told) else []


def busy(app) -> list[str]:
    """The app's workers not yet done, but for the status bar's memory sample (one a second, always)."""
    return [w.description or w.name for w in app.workers if not w.is_finished and w.group != "status"]


async def idle(pilot, timeout: float = 30.0) -> None:
    """Every worker done (views loaded, votes saved) and the messages they sent handled. Not while a
    worker waits for a screen to close (History's open does): wait for that screen's content instead."""
    await wait_until(pilot, lambda: not busy(pilot.app), timeout, "the workers to finish")
    await pilot.pause()


async def ready(pilot, app) -> None:
    """The engine is up and the views it fills (models, history, stats) have been filled."""
    from jarvis.app.tui.status_bar import StatusBar

    status = app.query_one(StatusBar)  # says "not started" when the engine failed: stop waiting then
    await wait_until(
        pilot, lambda: app.engine is not None or status.providers_note == "not started", 60, "the engine"
    )
    assert app.engine is not None, f"the engine did not start: {told_by(app)}"
    await idle(pilot)
