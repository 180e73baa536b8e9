"""An in-process bus for typed domain events (request completed/failed, feedback received)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

REQUEST_COMPLETED = "model.request.completed"
REQUEST_FAILED = "model.request.failed"
FEEDBACK_RECEIVED = "model.feedback.received"


@dataclass(frozen=True)
class BusEvent:
    type: str
    run_id: str | None
    payload: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class EventBus:
    """Subscribers are plain callables; one that raises never stops the others or the publisher."""

    def __init__(self) -> None:
        self._subs: dict[str, list[Callable[[BusEvent], None]]] = defaultdict(list)
        self.errors: list[BaseException] = []

    def subscribe(self, event_type: str, handler: Callable[[BusEvent], None]) -> Callable[[], None]:
        self._subs[event_type].append(handler)
        return lambda: self._subs[event_type].remove(handler)

    def publish(self, event: BusEvent) -> None:
        for handler in (*self._subs.get(event.type, ()), *self._subs.get("*", ())):
            try:
                handler(event)
            except Exception as err:  # a broken subscriber must not break a run
                self.errors.append(err)
