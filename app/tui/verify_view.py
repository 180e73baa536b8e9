"""What a verified run shows in the Run view: the checks found, each candidate's ✓/✗ per check (the
failures on demand), the verdict above the winning code, and the one-time confinement notice."""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Collapsible, Static


class ChecksBox(Vertical):
    """The checks a verified run uses, each with its source (given / extracted / model)."""

    DEFAULT_CSS = """
    ChecksBox { height: auto; border: round $accent 60%; padding: 0 1; margin: 0 0 1 0; }
    ChecksBox .head { text-style: bold; }
    ChecksBox .muted { color: $text-muted; }
    """

    def __init__(self, checks: Sequence[dict], entry_point: str | None, tier: str, limits: str, **kw) -> None:
        super().__init__(**kw)
        self.checks = list(checks)
        self.entry_point = entry_point
        self.tier = tier
        self.limits = limits

    def compose(self) -> ComposeResult:
        where = f" of {self.entry_point}()" if self.entry_point else ""
        yield Static(f"checks{where}: {len(self.checks)} · sandbox {self.tier}", classes="head", markup=False)
        lines = [f"{c['source']:>9}: {c['display']}" for c in self.checks]
        if not self.checks:
            lines = ["none found: the code cannot be verified, only compared between candidates"]
        yield Static("\n".join(lines), classes="checks", markup=False)
        yield Static(f"limits: {self.limits}", classes="muted", markup=False)


def split_line(line: str, displays: Sequence[str]) -> tuple[str, str]:
    """A candidate's "✗ check: why" line as ("✗ check", "why"): the check is matched against the
    known displays, since a check's own text may hold ": "."""
    body = line[2:]
    for display in sorted(displays, key=len, reverse=True):
        if body == display or body.startswith(display + ": "):
            return line[: 2 + len(display)], body[len(display) + 2 :]
    head, _, why = line.partition(": ")
    return head, why


class CandidateBox(Vertical):
    """One candidate run against the checks: a ✓/✗ line per check, the failures folded underneath
    (focus the fold and press enter, or click it, to see the actual values and errors)."""

    DEFAULT_CSS = """
    CandidateBox { height: auto; margin: 1 0 0 0; }
    CandidateBox .head { text-style: bold; }
    CandidateBox .passed { color: $success; }
    CandidateBox .failed { color: $warning; }
    CandidateBox Collapsible { margin: 0; padding: 0; border: none; }
    CandidateBox Collapsible Contents { padding: 0 0 0 2; }
    """

    def __init__(self, event, displays: Sequence[str], **kw) -> None:
        super().__init__(**kw)
        self.event = event
        self.displays = list(displays)

    def compose(self) -> ComposeResult:
        e = self.event
        kept = "" if e.kept else f" — not kept: {e.note}"
        ok = e.total > 0 and e.passed == e.total
        yield Static(
            f"{e.label}: {e.passed}/{e.total} checks passed in {e.seconds:.2f} s{kept}",
            classes="head " + ("passed" if ok else "failed"),
            markup=False,
        )
        shown, failures = [], []
        for line in e.lines:
            head, why = split_line(line, self.displays)
            shown.append(head)
            if why:
                failures.append(f"{head}: {why}")
        yield Static("\n".join(f"  {s}" for s in shown), classes="marks", markup=False)
        if failures:
            yield Collapsible(
                Static("\n".join(failures), markup=False, classes="why"),
                title=f"why {len(failures)} failed",
                collapsed=True,
            )


def verdict_text(event) -> str:
    """The verdict block above the winning code."""
    mark = "✓" if event.verified else "!"
    return (
        f"{mark} {event.status}\nsandbox {event.tier} · {event.candidates} candidate(s) ·"
        f" {event.rounds} repair round(s) · winner: candidate {event.winner + 1} ({event.reason})"
    )


class ConfinementNotice(ModalScreen[bool]):
    """Said once, before generated code first runs on this machine: what runs and how it is confined."""

    DEFAULT_CSS = """
    ConfinementNotice { align: center middle; }
    ConfinementNotice > Vertical { width: 80; height: auto; border: thick $warning; background: $surface;
                                   padding: 1 2; }
    ConfinementNotice .head { text-style: bold; margin-bottom: 1; }
    ConfinementNotice #notice-text { margin-bottom: 1; }
    ConfinementNotice Horizontal { height: 3; }
    """
    BINDINGS = [("escape", "dismiss(False)", "Do not run")]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Before the first verified run", classes="head")
            yield Static(self.text, id="notice-text", markup=False)
            with Horizontal():
                yield Button("Run it", id="notice-ok", variant="primary")
                yield Button("Do not run", id="notice-no")

    def on_mount(self) -> None:
        self.query_one("#notice-ok", Button).focus()

    @on(Button.Pressed)
    def answered(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "notice-ok")


async def acknowledged(app) -> bool:
    """True when the user has seen how generated code is confined: before (Paths.verify_notice exists)
    or now, in the notice they accept (then it is remembered). Call from a worker: it waits for them."""
    engine = app.engine
    path = engine.paths.verify_notice
    if path.exists():
        return True
    from jarvis.chains.verify.sandbox import SandboxUnavailable
    from jarvis.chains.verify.tiers import confinement_notice

    # The engine's own sandbox, so the tier named is the one the run will use.
    sandbox = engine.orchestrator.chain_runner._sandbox()
    try:
        text = confinement_notice(await sandbox.tier(), sandbox.limits.describe())
    except SandboxUnavailable as err:
        text = f"No sandbox can run code here ({err}); the code will not be run."
    if not await app.push_screen_wait(ConfinementNotice(text)):
        return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    except OSError as err:  # the notice shows again next time: better than not running
        app.notify(f"Could not remember the notice was shown: {err}", severity="warning")
    return True
