"""Plain events the orchestrator yields; the TUI and the CLI are two renderers of this stream."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    run_id: str

    @property
    def type(self) -> str:
        return type(self).__name__

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}


@dataclass(frozen=True, slots=True)
class RunStarted(Event):
    chain: str
    task: str
    analysis: dict[str, Any]


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
    usage: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunFinished(Event):
    status: str  # completed
    result: dict[str, Any]
    total_s: float
    cost_usd: float


@dataclass(frozen=True, slots=True)
class RunFailed(Event):
    message: str
    kind: str


@dataclass(frozen=True, slots=True)
class RunCancelled(Event):
    message: str = "Cancelled."
