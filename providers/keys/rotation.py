"""Rotation between a provider's keys: a key that was rejected or rate limited sits out a cooldown."""

from __future__ import annotations

import time
from collections.abc import Callable

from .sources import KeySources
from .types import NamedKey

#: A rejected key is most likely revoked: skip it for a long while (a restart tries it again).
AUTH_COOLDOWN_S = 600.0
#: A rate-limited key without a Retry-After: skip it for a minute.
RATE_COOLDOWN_S = 60.0


class KeyRotation:
    """Keys per provider prefix, loaded once on first use, each with its cooldown (``clock`` in seconds)."""

    def __init__(self, sources: KeySources, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.sources = sources
        self._clock = clock
        self._keys: dict[str, list[NamedKey]] = {}
        #: label -> (cool until, why)
        self._cooling: dict[str, tuple[float, str]] = {}

    def available(self, prefix: str) -> bool:
        return prefix in self._keys and bool(self._keys[prefix]) or self.sources.available(prefix)

    def loaded(self, prefix: str) -> bool:
        return prefix in self._keys

    def load(self, prefix: str) -> list[NamedKey]:
        """Blocking on first use for a prefix (the keyring); call it off the event loop."""
        if prefix not in self._keys:
            self._keys[prefix] = self.sources.load(prefix)
        return self._keys[prefix]

    def reload(self, provider: str | None = None) -> None:
        """Read the keys again on next use (after one was added or removed while running)."""
        if provider is None:
            self._keys.clear()
        else:
            self._keys.pop(provider, None)

    def _cool_left(self, key: NamedKey) -> float:
        until = self._cooling.get(key.label, (0.0, ""))[0]
        return max(0.0, until - self._clock())

    def usable(self, prefix: str) -> list[NamedKey]:
        """The loaded keys not cooling down, in order."""
        return [k for k in self._keys.get(prefix, []) if self._cool_left(k) == 0.0]

    def next_ready_in(self, prefix: str) -> float | None:
        """Seconds until the first cooling key of ``prefix`` may be tried again."""
        waits = [self._cool_left(k) for k in self._keys.get(prefix, [])]
        return min(waits) if waits else None

    def mark(self, key: NamedKey, why: str, seconds: float) -> None:
        self._cooling[key.label] = (self._clock() + seconds, why)

    def clear(self, key: NamedKey) -> None:
        self._cooling.pop(key.label, None)

    def state(self, provider: str, name: str) -> str:
        """ "ok", or why the key sits out and for how long (for listings)."""
        until, why = self._cooling.get(f"{provider}/{name}", (0.0, ""))
        left = until - self._clock()
        return f"{why}, skipped for {left:.0f} s" if left > 0 else "ok"

    def secrets(self) -> tuple[str, ...]:
        return tuple(k.secret for keys in self._keys.values() for k in keys)

    def problem(self, prefix: str) -> str:
        return self.sources.problem(prefix)
