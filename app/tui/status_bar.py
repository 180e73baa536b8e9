"""StatusBar: memory in use / available and loaded models, refreshed every second off the event loop."""

from __future__ import annotations

from typing import Protocol

from textual.worker import get_current_worker

from .line import Line


class MemoryReading(Protocol):
    """What the line shows of psutil.virtual_memory()'s answer (bytes)."""

    total: int
    available: int


def _gib(n: float) -> str:
    return f"{n / 1024**3:.1f}"


class StatusBar(Line):
    DEFAULT_CSS = """
    StatusBar { height: 1; width: 100%; background: $panel; color: $text-muted; padding: 0 1; }
    """

    def __init__(self, **kw) -> None:
        super().__init__("memory …", **kw)
        self.loaded: list[str] = []
        #: Until discovery ends this says so here, not in a toast that would cover the line's end.
        self.providers_note = "looking for models…"
        #: "serving :11435 · 2 in flight · 1 queued" while a `jarvis serve` writes to this database.
        self.serving_note = ""

    def on_mount(self) -> None:
        self.set_interval(1.0, self.refresh_memory)
        # After the first frame: the sampling thread's psutil import would compete with it for the GIL.
        self.call_after_refresh(self.refresh_memory)
        self.set_interval(2.0, self.refresh_serving)
        self.set_interval(5.0, self.refresh_loaded)

    async def refresh_serving(self) -> None:
        """Read the `servers` heartbeats (another process's `jarvis serve`, or this one's)."""
        engine = getattr(self.app, "engine", None)
        if engine is None:
            return
        from jarvis.chains.served_store import live_servers

        try:
            servers = await engine.ledger.call_fn(live_servers)
        except Exception:  # a ledger closing under us: the line simply stays as it was
            return
        self.serving_note = " · ".join(s.status_text() for s in servers)

    async def refresh_loaded(self) -> None:
        """What the local backends hold now (Ollama's /api/ps, LM Studio's, the embedded models): the
        registry's "loaded" is from discovery, and models come and go (keep_alive, `jarvis models`)."""
        lifecycle = getattr(getattr(self.app, "engine", None), "lifecycle", None)
        if lifecycle is None:
            return
        try:
            loaded, _ = await lifecycle.loaded()
        except Exception:  # a backend that answers oddly: the line keeps what it showed
            return
        self.loaded = [m.id for m in loaded]

    def refresh_memory(self) -> None:
        self.run_worker(
            self._sample,
            thread=True,
            group="status",
            exclusive=True,
            exit_on_error=False,
            description="memory sample",
        )

    def _sample(self) -> None:
        read = self.app.read_memory
        if read is None:
            import psutil  # ~25 µs per sample; on a thread so the UI never waits

            read = psutil.virtual_memory
        vm = read()
        used, free = _gib(vm.total - vm.available), _gib(vm.available)
        text = f"memory {used}/{_gib(vm.total)} GiB used · {free} GiB free"
        # Most important first: a narrow terminal cuts the end of the line, and the loaded list is long.
        if self.providers_note:
            text += " · " + self.providers_note
        if self.serving_note:
            text += " · " + self.serving_note
        if self.loaded:
            text += " · loaded: " + ", ".join(self.loaded)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.set, text)
