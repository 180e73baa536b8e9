"""Runs one step on its model, failing over along the selection's fallbacks, and yields events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from jarvis.providers.errors import ProviderError
from jarvis.providers.registry import ModelEntry, ModelRegistry
from jarvis.providers.resources import ResourceGuard
from jarvis.providers.types import Completion, Delta, GenerationOptions, Infill, Message

from .bus import EventBus, FallbackOccurred, RequestCompleted, RequestFailed, RequestRecord
from .cache import cache_key
from .clock import Clock, SystemClock
from .events import Event, FallbackTaken, Notice, TokenDelta
from .fallback import RETRY, CircuitBreaker, FallbackPolicy
from .ledger_async import AsyncLedger
from .router import INTERACTIVE, QueueCancelled, QueueFull, Router, same_model


class Cancelled(Exception):
    """The user cancelled; raised out of the step so the run records it."""


@dataclass
class StepContext:
    run_id: str
    step_id: str
    role: str
    task_type: str | None
    cancel: asyncio.Event
    #: False: neither read nor write the answer cache for this step (the run's RunOptions.use_cache).
    use_cache: bool = True
    #: The router serves INTERACTIVE (TUI, CLI) before BACKGROUND (server traffic) when requests queue.
    priority: int = INTERACTIVE


@dataclass
class StepOutcome:
    """Filled in by the runner (an async generator cannot return a value)."""

    model: ModelEntry | None = None
    completion: Completion | None = None
    error: ProviderError | None = None
    notices: list[str] = field(default_factory=list)
    cached: bool = False
    #: What the last failed attempt streamed before it broke (the user already saw it).
    partial_text: str = ""
    #: The endpoint the router gave the last attempt (the same model on a less busy host, perhaps).
    served_by: ModelEntry | None = None


def provider_key(entry: ModelEntry) -> str:
    return f"provider:{entry.provider}"


class StepRunner:
    def __init__(
        self,
        registry: ModelRegistry,
        ledger: AsyncLedger,
        bus: EventBus,
        *,
        policy: FallbackPolicy,
        breaker: CircuitBreaker,
        guard: ResourceGuard,
        use_cache: bool = True,
        checkpoint_s: float = 2.0,
        clock: Clock | None = None,
        router: Router | None = None,
    ) -> None:
        self.registry = registry
        self.ledger = ledger
        self.bus = bus
        self.policy = policy
        self.breaker = breaker
        self.guard = guard
        self.use_cache = use_cache
        self.checkpoint_s = checkpoint_s
        self.clock: Clock = clock or SystemClock()
        #: Every provider call takes a slot here first (per-backend queues, load sharing).
        self.router = router or Router(clock=self.clock)

    def any_cooling(self) -> bool:
        return bool(self.breaker.open_keys())

    def cooling(self, model_id: str) -> bool:
        entry = self.registry.lookup(model_id)
        provider_open = entry is not None and self.breaker.is_open(provider_key(entry))
        return self.breaker.is_open(model_id) or provider_open

    async def run(
        self,
        ctx: StepContext,
        candidates: Sequence[ModelEntry],
        messages: list[Message],
        options: GenerationOptions,
        est_tokens: int,
        outcome: StepOutcome,
        reselect: Callable[[frozenset[str], int], list[ModelEntry]] | None = None,
        infill: Infill | None = None,
    ) -> AsyncIterator[Event]:
        """Try candidates in order. ``reselect(exclude, min_context)`` may offer more after all fail.
        With ``infill`` each attempt fills in the middle (``stream_infill``) instead of chatting."""
        queue = list(candidates)
        tried: set[str] = set()
        attempt = 0
        min_context = 0
        last_error: ProviderError | None = None
        while queue:
            entry = queue[0]
            if (
                entry.id in tried
                and attempt == 0
                or self.cooling(entry.id)
                or (min_context and (entry.context_length or 0) < min_context)
            ):
                queue.pop(0)
                continue
            tried.add(entry.id)
            try:
                attempt_events = self._attempt(ctx, entry, messages, options, est_tokens, outcome, infill)
                async for event in attempt_events:
                    yield event
                served = outcome.served_by or entry
                self.breaker.record_success(served.id)
                self.breaker.record_success(provider_key(served))
                outcome.model = served
                return
            except ProviderError as err:
                last_error = err
                partial = outcome.partial_text
                decision = self.policy.decide(err, attempt, bool(partial))
                served = outcome.served_by or entry
                if isinstance(err, QueueFull):
                    pass  # a busy backend is not a failing one: the breaker stays as it is
                elif decision.provider_down:
                    self.breaker.record_failure(provider_key(served), immediately=True)
                else:
                    self.breaker.record_failure(served.id)
                if decision.action == RETRY and not self.cooling(entry.id):
                    attempt += 1
                    yield Notice(
                        ctx.run_id,
                        ctx.step_id,
                        f"{entry.id}: {err.message} Retrying in {decision.delay_s:.1f} s.",
                    )
                    await self._sleep(ctx, decision.delay_s)
                    continue
                attempt = 0
                min_context = max(min_context, decision.min_context)
                queue.pop(0)
                if not queue and reselect is not None:
                    queue.extend(reselect(frozenset(tried), min_context))
                nxt = next(
                    (
                        m
                        for m in queue
                        if m.id not in tried
                        and not self.cooling(m.id)
                        and (m.context_length or 0) >= min_context
                    ),
                    None,
                )
                to_model = nxt.id if nxt else None
                self.bus.publish(FallbackOccurred(ctx.run_id, served.id, to_model, err.kind))
                yield FallbackTaken(ctx.run_id, ctx.step_id, entry.id, to_model, err.kind, str(err), partial)
        outcome.error = last_error or ProviderError("No model was left to try for this step.")

    async def _sleep(self, ctx: StepContext, seconds: float) -> None:
        try:
            await asyncio.wait_for(ctx.cancel.wait(), seconds)
        except TimeoutError:
            return
        raise Cancelled

    async def _attempt(
        self,
        ctx: StepContext,
        entry: ModelEntry,
        messages: list[Message],
        options: GenerationOptions,
        est_tokens: int,
        outcome: StepOutcome,
        infill: Infill | None = None,
    ) -> AsyncIterator[Event]:
        outcome.partial_text = ""
        outcome.served_by = None
        self.guard.check_context(entry.info, est_tokens, options.max_tokens, entry.context_length)
        key = cache_key(entry.id, messages, options, infill) if self.use_cache and ctx.use_cache else None
        started_at = self.clock.time()
        if key is not None:
            hit = await self.ledger.cache_get(key)
            if hit is not None:
                outcome.completion = Completion.from_cache(hit)
                outcome.cached = True
                yield Notice(
                    ctx.run_id,
                    ctx.step_id,
                    f"Answer for {entry.id} taken from the cache (same prompt, deterministic options).",
                )
                yield TokenDelta(ctx.run_id, ctx.step_id, outcome.completion.text)
                self._record(ctx, entry, outcome.completion, started_at, cached=True)
                return
        peers = [m for m in self.registry.models if same_model(entry, m) and not self.cooling(m.id)]
        try:
            lease = await self.router.acquire(entry, priority=ctx.priority, cancel=ctx.cancel, peers=peers)
        except QueueCancelled:
            raise Cancelled from None
        try:
            stream = self._stream(ctx, lease.endpoint, messages, options, outcome, key, started_at, infill)
            async for event in stream:
                yield event
        finally:
            lease.release()

    async def _stream(
        self,
        ctx: StepContext,
        entry: ModelEntry,
        messages: list[Message],
        options: GenerationOptions,
        outcome: StepOutcome,
        key: str | None,
        started_at: float,
        infill: Infill | None = None,
    ) -> AsyncIterator[Event]:
        """One request to ``entry`` (the endpoint the router chose), holding its slot."""
        outcome.served_by = entry
        provider, name = self.registry.provider_for(entry.id)
        parts: list[str] = []
        started = self.clock.perf_counter()
        next_checkpoint = started + self.checkpoint_s
        stream = (
            provider.stream_infill(name, infill, options)
            if infill is not None
            else provider.stream_chat(name, messages, options)
        )
        # Cancellation without a per-token race: a watcher cancels this task only while it is
        # suspended inside the provider's stream; otherwise the flag is checked between chunks.
        task = asyncio.current_task()
        state = {"in_stream": False}
        watcher = asyncio.ensure_future(_cancel_when_set(ctx.cancel, state, task))
        try:
            while True:
                if ctx.cancel.is_set():
                    raise Cancelled
                state["in_stream"] = True
                try:
                    chunk = await anext(stream)
                except StopAsyncIteration:
                    break
                except asyncio.CancelledError:
                    if ctx.cancel.is_set() and task is not None and task.uncancel() == 0:
                        raise Cancelled from None
                    raise
                finally:
                    state["in_stream"] = False
                if isinstance(chunk, Delta):
                    parts.append(chunk.text)
                    yield TokenDelta(ctx.run_id, ctx.step_id, chunk.text)
                    if self.clock.perf_counter() >= next_checkpoint:
                        # A killed process keeps what was streamed up to here.
                        self.ledger.checkpoint_step(ctx.step_id, "".join(parts))
                        next_checkpoint = self.clock.perf_counter() + self.checkpoint_s
                else:
                    outcome.completion = chunk
        except ProviderError as err:
            # The adapter's own record of the broken stream, else what reached the user here.
            partial = getattr(err, "partial_text", "") or "".join(parts)
            outcome.partial_text = partial
            self._record_failure(ctx, entry, err, started_at, self.clock.perf_counter() - started, partial)
            raise
        except Cancelled:
            took = self.clock.perf_counter() - started
            self._record_failure(ctx, entry, None, started_at, took, "".join(parts))
            raise
        finally:
            watcher.cancel()
            if isinstance(stream, AsyncGenerator):
                await stream.aclose()  # closing the stream stops generation on the backend
        if outcome.completion is None:
            raise ProviderError(f"{entry.id} ended without a final record.")
        for warning in outcome.completion.warnings:
            outcome.notices.append(warning)
            yield Notice(ctx.run_id, ctx.step_id, warning)
        self._record(ctx, entry, outcome.completion, started_at)
        if key is not None:
            self.ledger.cache_put(key, entry.id, outcome.completion.cache_record())

    def _record(
        self, ctx: StepContext, entry: ModelEntry, c: Completion, started_at: float, cached: bool = False
    ) -> None:
        # One path for every fact: the ledger writes the row with its event; the bus tells live listeners.
        record = RequestRecord(
            entry.id,
            "ok",
            ctx.run_id,
            ctx.step_id,
            entry.provider,
            ctx.task_type,
            ctx.role,
            c.usage(cached=cached),
            c.total_s,
            started_at,
        )
        self.ledger.record_request(record)
        self.bus.publish(RequestCompleted(ctx.run_id, record))

    def _record_failure(
        self,
        ctx: StepContext,
        entry: ModelEntry,
        err: ProviderError | None,
        started_at: float,
        latency: float,
        partial: str,
    ) -> None:
        record = RequestRecord(
            entry.id,
            "failed" if err else "cancelled",
            ctx.run_id,
            ctx.step_id,
            entry.provider,
            ctx.task_type,
            ctx.role,
            latency_s=latency,
            started_at=started_at,
            error_kind=err.kind if err else "cancelled",
            error=str(err) if err else "Cancelled by the user.",
            partial_text=partial or None,
        )
        self.ledger.record_request(record)
        if err is not None:
            self.bus.publish(RequestFailed(ctx.run_id, record))


async def _cancel_when_set(cancel: asyncio.Event, state: dict[str, bool], task: asyncio.Task | None) -> None:
    await cancel.wait()
    if state["in_stream"] and task is not None:
        task.cancel()
