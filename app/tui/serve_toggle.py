"""Serving the APIs from the workbench itself (command palette: "Serve the OpenAI and Ollama APIs"): the
app `jarvis serve` runs, on the workbench's engine and event loop, so an editor's requests and the
workbench's own share one router (the workbench's first) and show in its status line and History."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

from textual.app import App, SystemCommand

DEFAULT_PORT = 11435


class WorkbenchServer:
    """uvicorn serving build_app on the running loop; started and stopped by the command palette."""

    def __init__(self, engine: Any, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        self.engine = engine
        self.host = host
        self.port = port
        self._server: Any = None
        self._task: asyncio.Task | None = None
        self._sock: socket.socket | None = None
        self._app: Any = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> str:
        """The ready line; raises OSError (the port is taken) with the reason."""
        import uvicorn

        from ..serve.server import ServeSettings, build_app
        from ..serve_commands import bind, ready_line

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield  # the workbench owns the terminal and its signals

        self._sock = bind(self.host, self.port)
        settings = ServeSettings(host=self.host, port=self._sock.getsockname()[1])
        self.port = settings.port
        # No log config: uvicorn's default handlers would write over the screen.
        self._app = build_app(self.engine, settings)
        config = uvicorn.Config(
            self._app,
            log_config=None,
            log_level="critical",
            lifespan="on",
            timeout_graceful_shutdown=3,
            access_log=False,
        )
        self._server = Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started and not self._task.done():
            await asyncio.sleep(0.02)
        if not self._server.started:
            await self.stop()
            raise OSError(f"the server on {self.host}:{self.port} stopped as it started")
        return ready_line(self.host, self.port)

    async def stop(self) -> None:
        if self._app is not None:
            # The user asked for it (or quits): answers in flight end now, each with an error event that
            # says so, rather than being cut by uvicorn mid-chunk after its grace period.
            self._app.state.gateway.stop_all()
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._task
        if self._sock is not None:
            self._sock.close()
        self._task = self._server = self._sock = self._app = None


async def toggle_serving(app: App, port: int = DEFAULT_PORT) -> None:
    """Start serving (and say where) or stop; the status line follows from the heartbeat."""
    server: WorkbenchServer | None = getattr(app, "api_server", None)
    if server is not None and server.running:
        await server.stop()
        app.notify(f"Stopped serving on :{server.port}.")
        return
    engine = getattr(app, "engine", None)
    if engine is None:
        app.notify("The engine is still starting; try again in a moment.", severity="warning")
        return
    server = WorkbenchServer(engine, port=port)
    try:
        line = await server.start()
    except OSError as err:
        app.notify(
            f"Cannot serve on 127.0.0.1:{port} ({err.strerror or err}); is `jarvis serve` already running?",
            severity="error",
        )
        return
    app.api_server = server  # type: ignore[attr-defined]  # WorkbenchApp declares it
    app.notify(line[0].upper() + line[1:] + ".", timeout=10)


def serve_command(app: App) -> SystemCommand:
    server: WorkbenchServer | None = getattr(app, "api_server", None)
    if server is not None and server.running:
        return SystemCommand(
            "Stop serving the APIs", f"Stop the OpenAI/Ollama server on :{server.port}", _run(app)
        )
    return SystemCommand(
        "Serve the OpenAI and Ollama APIs",
        f"Editors and tools can use the workbench's models at http://127.0.0.1:{DEFAULT_PORT}/v1",
        _run(app),
    )


def _run(app: App) -> Any:
    def start() -> None:
        app.run_worker(toggle_serving(app), group="serve", exclusive=True, description="serve the APIs")

    return start
