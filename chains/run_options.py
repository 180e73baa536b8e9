"""What a caller may ask of one chain run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .router import INTERACTIVE

if TYPE_CHECKING:
    from .context.project import ProjectContext
    from .threads import FollowUp


@dataclass(frozen=True)
class RunOptions:
    chain: str = "default"
    #: Use this model for every role (it must pass the hard filters).
    model: str | None = None
    #: With ``model``: fail the step when that model fails instead of answering with another one.
    no_fallback: bool = False
    strategy: str | None = None
    max_rounds: int | None = None
    #: False: neither read nor write the answer cache during this run.
    use_cache: bool = True
    #: Options that override every role's own (e.g. a seed for repeatable runs).
    overrides: dict[str, Any] = field(default_factory=dict)
    #: Run the code role's candidates in the sandbox: True/False override the chain's `verify`.
    verify: bool | None = None
    #: Given tests (a pytest file or snippet) and examples ("is_prime(7) is True"): authoritative checks.
    tests: str | None = None
    examples: tuple[str, ...] = ()
    #: Overrides of the chain's `[verify]` settings (candidates, repair_rounds, ...).
    verify_settings: dict[str, Any] = field(default_factory=dict)
    #: Say once how generated code is confined before it first runs (the app remembers it was shown).
    confinement_notice: bool = False
    #: Files and folders of the user's project (chains.context): in every role's prompt, fitted.
    context: ProjectContext | None = None
    #: When requests queue for a backend: INTERACTIVE (a person at the TUI or CLI) before BACKGROUND
    #: (server traffic); see chains.router.
    priority: int = INTERACTIVE
    #: A follow-up turn (continued, regenerated or forked; chains.threads): its place and earlier turns.
    follow_up: FollowUp | None = None
    #: The project's own test command (`--test-cmd`): with attached files and verification on, the one
    #: authoritative check of each candidate's edits (chains.verify.project_mode).
    test_cmd: str | None = None

    @property
    def project_tests(self) -> str | None:
        """The test command when a verified run is in project mode (files attached and a command)."""
        return self.test_cmd if self.context is not None and self.test_cmd else None


class StepFailed(Exception):
    def __init__(self, message: str, kind: str = "failed") -> None:
        super().__init__(message)
        self.kind = kind
