"""StepPane: one chain step (or one compared answer) streaming live, headed by model, reason and live
stats."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from .line import Line
from .stream_view import StreamView


class StepPane(Vertical):
    DEFAULT_CSS = """
    StepPane { height: auto; border: round $primary 40%; padding: 0 1; margin: 0 0 1 0; }
    StepPane.done { border: round $success 60%; }
    StepPane.failed { border: round $error; }
    StepPane .head { text-style: bold; }
    StepPane .reason { color: $text-muted; }
    StepPane .stats { color: $text-muted; }
    StepPane .notice { color: $warning; }
    StepPane.fill { height: 1fr; }
    """

    def __init__(
        self,
        step_id: str,
        title: str,
        reason: str = "",
        flush_interval: float = 0.1,
        *,
        fill: bool = False,
        phase: float = 0.0,
        clock: Callable[[], float] = time.perf_counter,
        **kw,
    ) -> None:
        """`clock` times the live TTFT and token rate (seconds, monotonic; a test passes a scripted one)."""
        super().__init__(**kw)
        self.step_id = step_id
        self.title = title
        self.reason = reason
        self.clock = clock
        self.started = clock()
        self.first_token: float | None = None
        self.pieces = 0
        self.flush_interval = flush_interval
        #: Delay before the first flush: panes streaming side by side repaint in different frames.
        self.phase = phase
        self.stream = StreamView(fill=fill)
        self._timer = None
        self.set_class(fill, "fill")
        self.status = "running"

    def compose(self) -> ComposeResult:
        yield Static(self.title, classes="head", markup=False)
        if self.reason:
            yield Static(self.reason, classes="reason", markup=False)
        yield Line("waiting for the first token…", classes="stats", id="stats")
        yield self.stream

    def on_mount(self) -> None:
        # One timer for text and stats: everything this pane changes is repainted in one frame, and a
        # frame's repaint stays inside this pane (Textual repaints the box around all dirty regions).
        self._timer = self.set_interval(self.flush_interval, self._tick, pause=self.phase > 0)
        if self.phase > 0:
            self.set_timer(self.phase, self._timer.resume)

    def _tick(self) -> None:
        self.stream.flush()
        self._live_stats()

    def set_title(self, title: str) -> None:
        self.title = title
        self.query_one(".head", Static).update(title)

    def add_text(self, text: str) -> None:
        if self.first_token is None:
            self.first_token = self.clock()
        self.pieces += 1
        self.stream.append(text)

    def add_notice(self, text: str) -> None:
        self.mount(Static(f"! {text}", classes="notice", markup=False), before=self.stream)

    def _live_stats(self) -> None:
        if self.status != "running" or self.first_token is None:
            return
        elapsed = self.clock() - self.first_token
        rate = (self.pieces - 1) / elapsed if elapsed > 0 and self.pieces > 1 else 0
        self.query_one("#stats", Line).set(
            f"TTFT {1000 * (self.first_token - self.started):.0f} ms · {rate:.0f} tok/s · {self.pieces} tok"
        )

    async def finish(self, status: str, usage: dict | None = None, error: str | None = None) -> None:
        self.status = status
        if self._timer is not None:
            self._timer.stop()
        u = usage or {}
        if status == "completed":
            ttft = f"{u['ttft_s'] * 1000:.0f} ms" if u.get("ttft_s") else "-"
            tps = f"{u['tokens_per_s']:.0f} tok/s" if u.get("tokens_per_s") else "-"
            total = f"{u['total_s']:.1f} s" if u.get("total_s") else "-"
            cached = " · from cache" if u.get("cached") else ""
            self.query_one("#stats", Line).set(
                f"✓ {total} · TTFT {ttft} · {tps} · {u.get('completion_tokens', self.pieces)} tok{cached}"
            )
            self.add_class("done")
        else:
            self.query_one("#stats", Line).set(f"✗ {status}" + (f": {error}" if error else ""))
            self.add_class("failed")
        await self.stream.finish(as_markdown=status == "completed")
