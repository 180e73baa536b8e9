"""Fallback policy: classify a failure, decide retry / fail over / give up, and cool down failing backends."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from jarvis.providers.errors import (
    BadResponse,
    ContextOverflow,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
)

RETRY, FAILOVER, GIVE_UP = "retry", "failover", "give_up"


@dataclass
class Decision:
    action: str
    delay_s: float = 0.0
    #: Open the breaker for the whole provider (its server is down), not just this model.
    provider_down: bool = False
    #: After a context overflow, only models with at least this window.
    min_context: int = 0


@dataclass
class CircuitBreaker:
    """Counts consecutive failures per key (a model id or a provider name); open keys are skipped."""

    threshold: int = 3
    cooldown_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, int] = field(default_factory=dict)
    _open_until: dict[str, float] = field(default_factory=dict)

    def is_open(self, key: str) -> bool:
        until = self._open_until.get(key)
        if until is None:
            return False
        if self.clock() >= until:
            # Half-open: let one request through; a failure re-opens at once.
            del self._open_until[key]
            self._failures[key] = self.threshold - 1
            return False
        return True

    def record_failure(self, key: str, *, immediately: bool = False) -> None:
        n = self._failures.get(key, 0) + 1
        self._failures[key] = n
        if immediately or n >= self.threshold:
            self._open_until[key] = self.clock() + self.cooldown_s

    def record_success(self, key: str) -> None:
        self._failures.pop(key, None)
        self._open_until.pop(key, None)

    def open_keys(self) -> list[str]:
        return [k for k in list(self._open_until) if self.is_open(k)]


@dataclass
class FallbackPolicy:
    max_retries: int = 2
    base_delay_s: float = 0.25
    max_delay_s: float = 4.0
    #: Honour a Retry-After up to this long; beyond it, move to the next model instead.
    max_retry_after_s: float = 10.0
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter."""
        return self.rng.uniform(0, min(self.max_delay_s, self.base_delay_s * 2**attempt))

    def decide(self, err: ProviderError, attempt: int, streamed_text: bool) -> Decision:
        """Decided by the error's type and fields only: adapters word their messages differently.

        A cloud key that is rejected or rate limited never reaches here: the cloud provider retries
        the same request with the provider's next key (providers/keys/rotation.py). An error here
        means every key failed, so it is the model's failure like any other.
        """
        if isinstance(err, ProviderUnavailable):
            if err.refused:
                # A refused connection is a dead server: retrying it only delays the failover.
                return Decision(FAILOVER, provider_down=True)
            if attempt < self.max_retries:
                return Decision(RETRY, self.backoff(attempt))
            return Decision(FAILOVER)
        if isinstance(err, RateLimited):
            wait = err.retry_after
            if attempt < self.max_retries and (wait is None or wait <= self.max_retry_after_s):
                return Decision(RETRY, wait if wait is not None else self.backoff(attempt))
            return Decision(FAILOVER)
        if isinstance(err, BadResponse):
            # A stream cut mid-way: keep the partial, let the next model answer.
            if streamed_text or attempt >= 1:
                return Decision(FAILOVER)
            return Decision(RETRY, self.backoff(attempt))
        if isinstance(err, ContextOverflow):
            return Decision(FAILOVER, min_context=err.needed)
        # Timeouts, memory, a missing model, credentials, filtered content and the unknown: next model.
        return Decision(FAILOVER)
