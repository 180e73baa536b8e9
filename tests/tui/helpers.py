"""Pilot helpers: build the real workbench over a config, and await conditions instead of sleeping."""

from __future__ import annotations

import time

from jarvis.app.config import Config
from jarvis.app.engine import build_engine
from jarvis.app.paths import resolve_paths
from jarvis.app.tui.workbench import WorkbenchApp


async def wait_until(pilot, predicate, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def make_app(home, config: dict | None = None) -> WorkbenchApp:
    cfg = Config.model_validate(config or {"ollama": {"enabled": False}, "lmstudio": {"enabled": False}})
    paths = resolve_paths({"JARVIS_HOME": str(home)})

    async def factory():
        return await build_engine(cfg, paths).start()

    return WorkbenchApp(factory, settings_path=paths.data_dir / "tui.json")


async def ready(pilot, app) -> None:
    await wait_until(pilot, lambda: app.engine is not None, 60, "the engine")
    await pilot.pause(0.2)
