"""An in-process bus for typed domain events (request completed/failed, feedback received).

The ledger stores each fact and its event row together, where the fact is written (the step
runner's request rows, chains.feedback's ratings and votes); the bus only tells live listeners.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, TypeVar

from jarvis.providers.types import Usage

REQUEST_COMPLETED = "model.request.completed"
REQUEST_FAILED = "model.request.failed"
FEEDBACK_RECEIVED = "model.feedback.received"
FALLBACK_TAKEN = "model.request.fallback"


@dataclass(frozen=True)
class RequestRecord:
    """One request to one model (one attempt of a step): a row of the ledger's requests table."""

    model_id: str
    status: str  # ok | failed | cancelled
    run_id: str | None = None
    step_id: str | None = None
    provider: str | None = None
    task_type: str | None = None
    role: str | None = None
    usage: Usage = field(default_factory=Usage)
    latency_s: float | None = None
    started_at: float | None = None
    error_kind: str | None = None
    error: str | None = None
    partial_text: str | None = None

    def as_row(self) -> dict[str, Any]:
        u = self.usage
        return {
            "run_id": self.run_id,
            "step_id": self.step_id,
            "model_id": self.model_id,
            "provider": self.provider,
            "task_type": self.task_type,
            "role": self.role,
            "prompt_tokens": u.prompt_tokens,
            "completion_tokens": u.completion_tokens,
            "ttft_s": u.ttft_s,
            "tokens_per_s": u.tokens_per_s,
            "latency_s": self.latency_s,
            "cost_usd": u.cost_usd,
            "status": self.status,
            "cached": u.cached,
            "started_at": self.started_at,
            "error_kind": self.error_kind,
            "error": self.error,
            "partial_text": self.partial_text,
        }


@dataclass(frozen=True)
class BusEvent:
    run_id: str | None
    topic: ClassVar[str] = ""

    def as_json(self) -> dict[str, Any]:
        return {"type": self.topic, **asdict(self)}


@dataclass(frozen=True)
class RequestCompleted(BusEvent):
    request: RequestRecord = field(default_factory=lambda: RequestRecord("", "ok"))
    topic: ClassVar[str] = REQUEST_COMPLETED


@dataclass(frozen=True)
class RequestFailed(BusEvent):
    request: RequestRecord = field(default_factory=lambda: RequestRecord("", "failed"))
    topic: ClassVar[str] = REQUEST_FAILED


@dataclass(frozen=True)
class FeedbackReceived(BusEvent):
    """A rating (``score``) of a run or step, or a vote (``winner``) on a comparison."""

    target_kind: str = "run"  # run | step | compare
    target_id: str = ""
    model_id: str | None = None
    task_type: str | None = None
    score: int | None = None
    winner: str | None = None
    models: tuple[str, ...] = ()
    topic: ClassVar[str] = FEEDBACK_RECEIVED


@dataclass(frozen=True)
class FallbackOccurred(BusEvent):
    """A step moved from a failed model to the next (``to_model`` None: none was left)."""

    from_model: str = ""
    to_model: str | None = None
    error_kind: str = ""
    topic: ClassVar[str] = FALLBACK_TAKEN


E = TypeVar("E", bound=BusEvent)


class EventBus:
    """Subscribers are plain callables, by event class; one that raises stops neither the others nor the
    publisher."""

    def __init__(self) -> None:
        self._subs: dict[type[BusEvent], list[Callable[[Any], None]]] = defaultdict(list)
        self.errors: list[BaseException] = []

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> Callable[[], None]:
        """``BusEvent`` itself subscribes to everything; returns the unsubscribe function."""
        self._subs[event_type].append(handler)
        return lambda: self._subs[event_type].remove(handler)

    def publish(self, event: BusEvent) -> None:
        for handler in (*self._subs.get(type(event), ()), *self._subs.get(BusEvent, ())):
            try:
                handler(event)
            except Exception as err:  # a broken subscriber must not break a run
                self.errors.append(err)
