"""One running pull in the Models view: what and where, a progress bar, bytes and rate, a Cancel button."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, ProgressBar, Static


def _mb(n: float) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


class PullBar(Horizontal):
    DEFAULT_CSS = """
    PullBar { height: 1; margin: 0 1; }
    PullBar > .pull-what { width: 1fr; }
    PullBar > ProgressBar { width: 44; }
    PullBar > .pull-bytes { width: 30; }
    PullBar > Button { height: 1; min-width: 10; border: none; }
    """

    def __init__(self, model: str, host: str, on_cancel: Callable[[], object], **kw) -> None:
        super().__init__(**kw)
        self.model = model
        self.host = host
        self.on_cancel = on_cancel
        self.samples: list[tuple[float, int]] = []
        self.completed = 0
        self.total = 0

    def compose(self) -> ComposeResult:
        yield Static(f"{self.model} → {self.host}", classes="pull-what", markup=False)
        yield ProgressBar(total=None, show_eta=False, id="pull-progress")
        yield Static("", classes="pull-bytes", markup=False)
        yield Button("Cancel", classes="pull-cancel")

    def show(self, progress) -> None:
        """One progress line from the pull; rate over the last few seconds."""
        bar = self.query_one(ProgressBar)
        text = progress.status
        if progress.total:
            self.total, self.completed = progress.total, progress.completed or 0
            bar.update(total=self.total, progress=self.completed)
            now = time.monotonic()
            self.samples = [s for s in self.samples if now - s[0] <= 5.0] + [(now, self.completed)]
            (t0, b0), (t1, b1) = self.samples[0], self.samples[-1]
            rate = f"  {_mb((b1 - b0) / (t1 - t0))}/s" if t1 > t0 and b1 > b0 else ""
            text = f"{_mb(self.completed)} / {_mb(self.total)}{rate}"
        self.query_one(".pull-bytes", Static).update(text)

    @on(Button.Pressed, ".pull-cancel")
    def cancel(self) -> None:
        self.on_cancel()
