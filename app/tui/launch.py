"""Starts the workbench: paint first, then load config and build the engine on a thread."""

from __future__ import annotations

import sys


def launch() -> int:
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        print(
            "jarvis: the workbench needs a terminal; for scripts use the commands (jarvis --help).",
            file=sys.stderr,
        )
        return 2
    from .gc_policy import pause_during_startup, settle_after_startup

    pause_during_startup()
    from ..paths import resolve_paths
    from .workbench import WorkbenchApp

    paths = resolve_paths()

    async def factory():
        import asyncio

        # Config validation (pydantic, ~0.2 s) and the engine's imports (~0.5 s) run on a thread
        # after the first paint, so the UI is up at once and keeps taking keystrokes meanwhile.
        def build():
            from ..config import load_config
            from ..engine import build_engine

            return build_engine(load_config(paths.config_file), paths)

        try:
            engine = await asyncio.to_thread(build)
            return await engine.start()
        finally:  # also when the engine cannot start: the app stays up and needs its collector
            settle_after_startup()

    WorkbenchApp(factory, settings_path=paths.tui_settings).run()
    return 0
