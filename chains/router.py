"""The router: every provider call takes a slot here first, so requests queue per backend instead of
piling onto it.

Ollama runs one request per model at a time by default (OLLAMA_NUM_PARALLEL) and LM Studio and an
embedded llama context serialise too; a comparison, a chain and an editor's request must wait their turn
rather than fight for that one slot. Limits are per model and per backend (a provider: one address),
waiters are served interactive first (a person at the TUI or CLI), then background (server traffic), in
arrival order within each, and background waiters beyond the queue bound get ``QueueFull`` with a
Retry-After. When the same model is on several endpoints (two Ollama hosts with ``qwen2.5-coder:7b``), a
request goes to the one with the fewest requests in flight.

No asyncio object is made before a request has to wait (none at import or construction).
"""

from __future__ import annotations

import asyncio
import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import count

from jarvis.providers.errors import ProviderError
from jarvis.providers.registry import ModelEntry

from .clock import Clock, SystemClock
from .host_slots import HostSlot, HostSlotCancelled, HostSlots

INTERACTIVE = 0
BACKGROUND = 1


@dataclass(frozen=True)
class Limit:
    """Concurrency of one backend: requests per model and in all; 0 is no bound, None takes the value of
    the next level (provider name, then provider kind, then the default)."""

    per_model: int | None = None
    total: int | None = None


#: What each backend family allows by default: Ollama serves one request per loaded model
#: (OLLAMA_NUM_PARALLEL=1) and keeps up to 3 models loaded; LM Studio serialises; the embedded backend
#: has one llama context per model; servers such as vLLM or llama-server batch; cloud APIs take more.
DEFAULT_LIMITS: Mapping[str, Limit] = {
    "ollama": Limit(per_model=1, total=3),
    "lmstudio": Limit(per_model=1, total=1),
    "embedded": Limit(per_model=1, total=0),
    "openai": Limit(per_model=4, total=8),
    "cloud": Limit(per_model=4, total=8),
}
FALLBACK_LIMIT = Limit(per_model=4, total=0)


class QueueFull(ProviderError):
    """The backend's queue is full; ``retry_after`` (seconds) is when asking again is likely to work."""

    kind = "queue_full"
    transient = True

    def __init__(self, message: str, *, retry_after: int, **kw: str) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class QueueCancelled(Exception):
    """The request was cancelled while it waited; it holds no slot."""


@dataclass(frozen=True)
class BackendLoad:
    in_flight: int
    queued: int


@dataclass(frozen=True)
class RouterLoad:
    """In-flight and queued requests, in all and per backend (provider name), for status and metrics."""

    in_flight: int
    queued: int
    backends: dict[str, BackendLoad]


def same_model(a: ModelEntry, b: ModelEntry) -> bool:
    """The same model on another endpoint of the same kind (two Ollama hosts, say)."""
    return a.id != b.id and a.provider_kind == b.provider_kind and a.name == b.name


@dataclass
class Lease:
    """A slot on ``endpoint``; released once (a second release does nothing)."""

    router: Router
    endpoint: ModelEntry
    started: float
    released: bool = False
    #: The machine-wide slot (host_slots) when the backend's slots are shared between processes.
    host: HostSlot | None = None

    def release(self) -> None:
        if not self.released:
            self.released = True
            if self.host is not None:
                self.host.release()
            self.router._release(self)


@dataclass
class _Waiter:
    priority: int
    seq: int
    endpoints: list[ModelEntry]
    future: asyncio.Future[Lease]
    backend: str


def _order(w: _Waiter) -> tuple[int, int]:
    return (w.priority, w.seq)


@dataclass
class Router:
    """``limits`` by provider name or provider kind (the name wins), over ``DEFAULT_LIMITS``."""

    limits: Mapping[str, Limit] = field(default_factory=dict)
    #: Background requests waiting per backend beyond which new ones get QueueFull.
    queue_size: int = 32
    clock: Clock = field(default_factory=SystemClock)
    _by_model: dict[str, int] = field(default_factory=dict)
    _by_backend: dict[str, int] = field(default_factory=dict)
    _waiters: list[_Waiter] = field(default_factory=list)
    _seq: count = field(default_factory=count)
    #: Seconds a slot is held, smoothed per backend, for Retry-After.
    _hold_s: dict[str, float] = field(default_factory=dict)
    #: Slots shared with the other jarvis processes on this machine (Ollama, LM Studio); None: this
    #: process's limits only.
    host_slots: HostSlots | None = None

    def limit_for(self, entry: ModelEntry) -> Limit:
        """The limit in force for ``entry``: each field from the most specific level that sets it."""
        levels = [
            self.limits.get(entry.provider),
            self.limits.get(entry.provider_kind),
            DEFAULT_LIMITS.get(entry.provider_kind, FALLBACK_LIMIT),
        ]
        per_model = next(lv.per_model for lv in levels if lv is not None and lv.per_model is not None)
        total = next(lv.total for lv in levels if lv is not None and lv.total is not None)
        return Limit(per_model, total)

    def _free(self, entry: ModelEntry) -> bool:
        limit = self.limit_for(entry)
        if limit.per_model and self._by_model.get(entry.id, 0) >= limit.per_model:
            return False
        return not limit.total or self._by_backend.get(entry.provider, 0) < limit.total

    def _pick(self, endpoints: Sequence[ModelEntry]) -> ModelEntry | None:
        free = [e for e in endpoints if self._free(e)]
        if not free:
            return None
        # Least in flight on the model, then on its backend; ties keep the caller's order.
        return min(free, key=lambda e: (self._by_model.get(e.id, 0), self._by_backend.get(e.provider, 0)))

    def _take(self, endpoint: ModelEntry) -> Lease:
        self._by_model[endpoint.id] = self._by_model.get(endpoint.id, 0) + 1
        self._by_backend[endpoint.provider] = self._by_backend.get(endpoint.provider, 0) + 1
        return Lease(self, endpoint, self.clock.perf_counter())

    async def acquire(
        self,
        entry: ModelEntry,
        *,
        priority: int = INTERACTIVE,
        cancel: asyncio.Event | None = None,
        peers: Sequence[ModelEntry] = (),
    ) -> Lease:
        """A slot on ``entry`` or on one of ``peers`` (the same model elsewhere, breakers closed): this
        process's first (its queue and priorities), then the machine's when other processes share it.

        Raises QueueFull (background requests only: a person waiting at the keyboard is never turned
        away) and QueueCancelled when ``cancel`` is set or the task is cancelled while waiting.
        """
        lease = await self._acquire_here(entry, priority=priority, cancel=cancel, peers=peers)
        if self.host_slots is None or not self.host_slots.shared(lease.endpoint):
            return lease
        try:
            per_model = self.limit_for(lease.endpoint).per_model or 0
            lease.host = await self.host_slots.take(lease.endpoint, per_model, cancel)
        except HostSlotCancelled:
            lease.release()
            raise QueueCancelled from None
        except BaseException:
            lease.release()
            raise
        return lease

    async def _acquire_here(
        self,
        entry: ModelEntry,
        *,
        priority: int,
        cancel: asyncio.Event | None,
        peers: Sequence[ModelEntry],
    ) -> Lease:
        endpoints = [entry, *(p for p in peers if same_model(entry, p))]
        # Whenever a slot frees, waiters that can use it get it at once (``_grant``); so a free endpoint
        # now is one nobody waits for, and taking it overtakes no one.
        chosen = self._pick(endpoints)
        if chosen is not None:
            return self._take(chosen)
        backend = entry.provider
        if priority >= BACKGROUND and self._queued(backend) >= self.queue_size:
            raise QueueFull(
                f"The backend {backend} is busy and its queue ({self.queue_size} waiting requests) is full.",
                hint=f"Try again in {self.retry_after(entry)} s.",
                retry_after=self.retry_after(entry),
                provider=backend,
                model=entry.name,
            )
        waiter = _Waiter(
            priority, next(self._seq), endpoints, asyncio.get_running_loop().create_future(), backend
        )
        bisect.insort(self._waiters, waiter, key=_order)
        try:
            if cancel is None:
                return await waiter.future
            stop: asyncio.Future[object] = asyncio.ensure_future(cancel.wait())
            granted: asyncio.Future[object] = waiter.future  # type: ignore[assignment]
            try:
                await asyncio.wait({granted, stop}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
            if waiter.future.done():
                return waiter.future.result()
            raise QueueCancelled
        except BaseException:
            # Granted in the same moment it was cancelled: give that slot back; else just leave the queue.
            if waiter.future.done() and not waiter.future.cancelled():
                waiter.future.result().release()
            else:
                waiter.future.cancel()
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            raise

    def _release(self, lease: Lease) -> None:
        e = lease.endpoint
        self._by_model[e.id] -= 1
        self._by_backend[e.provider] -= 1
        held = self.clock.perf_counter() - lease.started
        prev = self._hold_s.get(e.provider)
        self._hold_s[e.provider] = held if prev is None else 0.8 * prev + 0.2 * held
        self._grant()

    def _grant(self) -> None:
        for waiter in list(self._waiters):
            if waiter.future.done():  # cancelled in the meantime
                self._waiters.remove(waiter)
                continue
            chosen = self._pick(waiter.endpoints)
            if chosen is not None:
                self._waiters.remove(waiter)
                waiter.future.set_result(self._take(chosen))

    def _queued(self, backend: str) -> int:
        return sum(1 for w in self._waiters if w.backend == backend)

    def retry_after(self, entry: ModelEntry) -> int:
        """Whole seconds until a new request for ``entry`` would likely get a slot (1 to 120)."""
        limit = self.limit_for(entry)
        slots = min(x for x in (limit.per_model, limit.total, 1_000) if x)
        held = self._hold_s.get(entry.provider, 1.0)
        return max(1, min(120, math.ceil(held * (self._queued(entry.provider) + 1) / slots)))

    def load(self) -> RouterLoad:
        names = set(self._by_backend) | {w.backend for w in self._waiters}
        backends = {n: BackendLoad(self._by_backend.get(n, 0), self._queued(n)) for n in sorted(names)}
        return RouterLoad(
            sum(b.in_flight for b in backends.values()), sum(b.queued for b in backends.values()), backends
        )
