"""Plain events the orchestrator yields; the TUI and the CLI are two renderers of this stream."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from jarvis.providers.types import Usage

from .analyzer import Analysis

if TYPE_CHECKING:
    from .comparison import ComparisonResult
    from .synthesizer import SynthesizedResult


def _jsonable(value: Any) -> Any:
    if hasattr(value, "as_json"):
        return value.as_json()
    if isinstance(value, tuple):
        return list(value)
    return value


@dataclass(frozen=True, slots=True)
class Event:
    run_id: str

    @property
    def type(self) -> str:
        return type(self).__name__

    def as_json(self) -> dict[str, Any]:
        """The --json form: nested records (analysis, usage, attempts) as plain objects."""
        return {"type": self.type, **{f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}}


@dataclass(frozen=True, slots=True)
class RunStarted(Event):
    chain: str
    task: str
    analysis: Analysis


@dataclass(frozen=True, slots=True)
class StepStarted(Event):
    step_id: str
    role: str
    round: int
    model_id: str
    provider: str
    reason: str
    fallbacks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TokenDelta(Event):
    step_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Notice(Event):
    """Something the user should see: trimmed context, a truncation warning, a cache hit."""

    step_id: str | None
    text: str


@dataclass(frozen=True, slots=True)
class FallbackTaken(Event):
    step_id: str
    from_model: str
    to_model: str | None
    error_kind: str
    message: str
    partial_text: str = ""


@dataclass(frozen=True, slots=True)
class StepFinished(Event):
    step_id: str
    role: str
    model_id: str
    status: str
    output: str
    usage: Usage = field(default_factory=Usage)
    #: Why the step failed, as a sentence (None when it completed).
    error: str | None = None


@dataclass(frozen=True, slots=True)
class RunFinished(Event):
    status: str  # completed
    #: A chain's synthesized answer, or a comparison's answers; ``as_json()`` is what the ledger keeps.
    result: SynthesizedResult | ComparisonResult
    total_s: float
    cost_usd: float


@dataclass(frozen=True, slots=True)
class RunFailed(Event):
    message: str
    kind: str


@dataclass(frozen=True, slots=True)
class RunCancelled(Event):
    message: str = "Cancelled."
