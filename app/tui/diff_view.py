"""The edits a run's answer makes to the attached files: a highlighted diff per file, what was refused
and why, the project tests' result; `a` applies after a confirm, `u` undoes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.syntax import Syntax
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Button, Static

from .ask import Confirm

if TYPE_CHECKING:
    from jarvis.chains.edits.project_tests import ProjectTestResult
    from jarvis.chains.edits.review import EditReview


class ConfirmApply(Confirm):
    """Asked before the user's files are written: which files, and that each is backed up first."""

    def __init__(self, paths: list[str]) -> None:
        n = len(paths)
        super().__init__(
            f"Apply the edits to {n} file{'s' if n != 1 else ''}?\n\n"
            + "\n".join(f"  {p}" for p in paths)
            + "\n\nEach file is backed up first; u (or jarvis apply --undo) puts it back.",
            yes="Apply",
        )
        self.paths = paths

    def on_mount(self) -> None:
        self.query_one("#confirm-yes", Button).focus()  # enter applies, as the question was asked for


class DiffView(Vertical, can_focus=True):
    """A run's reviewed edits. Needs `app.engine` (its ledger and paths) to apply and undo."""

    DEFAULT_CSS = """
    DiffView { height: auto; border: round $warning; padding: 0 1; margin: 1 0 0 0; }
    DiffView:focus { border: round $accent; }
    DiffView .head { text-style: bold; }
    DiffView .file-head { color: $accent; margin-top: 1; }
    DiffView .refused { color: $error; }
    DiffView .tests-passed { color: $success; }
    DiffView .tests-failed { color: $error; }
    DiffView #apply-status { margin-top: 1; color: $text-muted; }
    """
    BINDINGS = [("a", "apply", "Apply edits"), ("u", "undo", "Undo apply")]

    class Applied(Message):
        """The run's edits were written (`undone` False) or put back (True)."""

        def __init__(self, run_id: str, paths: list[str], undone: bool) -> None:
            super().__init__()
            self.run_id, self.paths, self.undone = run_id, paths, undone

    def __init__(self, run_id: str, review: EditReview, tests: ProjectTestResult | None = None, **kw) -> None:
        super().__init__(**kw)
        self.run_id = run_id
        self.review = review
        self.tests = tests
        self.applied = False

    def compose(self) -> ComposeResult:
        from jarvis.chains.edits.diff import diff_stats

        changes = self.review.changes
        n = len(changes)
        head = (
            f"Edits to {n} file{'s' if n != 1 else ''} — not applied yet · a applies · u undoes"
            if changes
            else "The answer's edits cannot be applied"
        )
        yield Static(head, classes="head", markup=False)
        for change in changes:
            added, removed = diff_stats(change.patch)
            yield Static(f"{change.path}  +{added} −{removed}", classes="file-head", markup=False)
            yield Static(
                Syntax(change.patch.rstrip("\n"), "diff", theme="ansi_dark", background_color="default"),
                classes="patch",
            )
        if self.review.refused:
            yield Static("Not applied:", classes="file-head", markup=False)
            for outcome in self.review.refused:
                yield Static(outcome.line(), classes="refused", markup=False)
        if self.tests is not None:
            t = self.tests
            text = ("✓ " if t.passed else "✗ ") + t.summary()
            if not t.passed:
                text += "\n" + "\n".join(t.output_tail.rstrip().splitlines()[-8:])
            yield Static(text, classes="tests-passed" if t.passed else "tests-failed", markup=False)
        yield Static("", id="apply-status", markup=False)

    def _status(self, text: str) -> None:
        self.query_one("#apply-status", Static).update(text)

    def action_apply(self) -> None:
        if self.applied:
            self.app.notify("These edits are applied; u undoes them.")
        elif not self.review.changes:
            self.app.notify(
                "None of the answer's edits can be applied; the reasons are listed.", severity="warning"
            )
        else:
            self.apply_edits()

    def action_undo(self) -> None:
        self.undo_edits()

    @work(group="edits", exclusive=True, exit_on_error=False, description="apply a run's edits")
    async def apply_edits(self) -> None:
        from jarvis.chains.edits.apply import ApplyRefused

        from ..edits_console import apply_run

        paths = [c.path for c in self.review.changes]
        if not await self.app.push_screen_wait(ConfirmApply(paths)):
            self._status("Not applied.")
            return
        engine = self.app.engine
        try:
            applied = await apply_run(engine.ledger, engine.paths.edit_backups, self.run_id, self.review)
        except ApplyRefused as err:
            self._status(f"✗ {err}")
            self.app.notify(str(err), severity="error", timeout=10)
            return
        self.applied = True
        written = [f.path for f in applied]
        self._status(f"✓ Applied to {', '.join(written)} (backed up) · u undoes")
        self.app.notify(f"Applied the edits to {', '.join(written)}.")
        self.post_message(self.Applied(self.run_id, written, undone=False))

    @work(group="edits", exclusive=True, exit_on_error=False, description="undo a run's edits")
    async def undo_edits(self) -> None:
        from ..edits_console import undo_run

        outcomes = await undo_run(self.app.engine.ledger, self.run_id)
        if outcomes is None:
            self.app.notify("Nothing of this run is applied, so there is nothing to undo.")
            return
        restored = [o.path for o in outcomes if o.restored]
        lines = [
            f"✓ {o.path} restored" if o.restored else f"✗ {o.path} not restored: {o.reason}" for o in outcomes
        ]
        self._status("\n".join(lines))
        self.applied = len(restored) < len(outcomes)
        if restored:
            self.post_message(self.Applied(self.run_id, restored, undone=True))
