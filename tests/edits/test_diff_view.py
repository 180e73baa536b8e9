"""The diff view: highlighted patches, refusals with reasons; `a` confirms and applies, `u` undoes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static

from jarvis.app.paths import Paths
from jarvis.app.tui.diff_view import ConfirmApply, DiffView
from jarvis.chains.edits.review import review_answer
from jarvis.chains.ledger_async import AsyncLedger
from tests.edits.project import FIX, PARSER, attached, make_project, no_git
from tests.tui.helpers import wait_until

BAD = "cli.py\n<<<<<<< SEARCH\n    for field in parse(argv[2]):\n=======\n    pass\n>>>>>>> REPLACE\n"


@dataclass
class Engine:
    """What the diff view uses of the app's engine."""

    ledger: AsyncLedger
    paths: Paths


class DiffApp(App):
    def __init__(self, view: DiffView, engine: Engine | None = None) -> None:
        super().__init__()
        self.view, self.engine = view, engine

    def compose(self) -> ComposeResult:
        yield self.view

    def on_mount(self) -> None:
        self.view.focus()


def reviewed(root: Path):
    return review_answer(FIX + "\n" + BAD, root, attached(root, "parser.py", "cli.py"), dirty=no_git)


@pytest.mark.snapshot
def test_diff_view_snapshot(snap_compare, tmp_path):
    view = DiffView("run-1", reviewed(make_project(tmp_path / "proj")))
    assert snap_compare(DiffApp(view), terminal_size=(96, 24))


async def test_a_confirms_then_applies_and_u_undoes(tmp_path):
    root = make_project(tmp_path / "proj")
    ledger = AsyncLedger(tmp_path / "jarvis.db")
    ledger.start_run("run-1", "chain", "fix parse", "default", None, None)
    engine = Engine(ledger, Paths(config_file=tmp_path / "config.toml", data_dir=tmp_path))
    app = DiffApp(DiffView("run-1", reviewed(root)), engine)
    try:
        async with app.run_test(size=(96, 30)) as pilot:
            texts = [str(s.render()) for s in app.view.query(Static)]
            assert any(t.startswith("✗ cli.py (block 2): its SEARCH text matches 0 times") for t in texts)
            await pilot.press("a")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmApply), 10, "the confirm")
            await pilot.press("escape")  # declined: nothing written
            await wait_until(pilot, lambda: "Not applied." in status(app), 10, "the status")
            assert (root / "parser.py").read_text() == PARSER
            await pilot.press("a")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmApply), 10, "the confirm")
            await pilot.click("#confirm-yes")
            await wait_until(pilot, lambda: app.view.applied, 10, "the apply")
            assert "if text else []" in (root / "parser.py").read_text()
            assert status(app) == "✓ Applied to parser.py (backed up) · u undoes"
            await pilot.press("u")
            await wait_until(pilot, lambda: not app.view.applied, 10, "the undo")
            assert (root / "parser.py").read_text() == PARSER
            assert status(app) == "✓ parser.py restored"
    finally:
        ledger.close()


def status(app) -> str:
    return str(app.view.query_one("#apply-status", Static).render())
