"""Builds the whole engine (registry, ledger, selection, orchestrator) from config: one place, passed down."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from jarvis.chains.bus import EventBus, RequestCompleted
from jarvis.chains.clock import Clock, IdSource, new_id
from jarvis.chains.costs import within_budget
from jarvis.chains.fallback import CircuitBreaker, FallbackPolicy
from jarvis.chains.host_slots import HostSlots, backend_address
from jarvis.chains.ledger_async import AsyncLedger
from jarvis.chains.orchestrator import ModelOrchestrator
from jarvis.chains.policies import load_policies
from jarvis.chains.router import Limit, Router
from jarvis.chains.scores import PerformanceMonitor
from jarvis.chains.selection import SelectionEngine
from jarvis.chains.specs import ChainLibrary
from jarvis.chains.step_runner import StepRunner
from jarvis.providers.lifecycle import ModelLifecycle
from jarvis.providers.registry import ModelRegistry
from jarvis.providers.resources import system_available

from .compose import build_lifecycle, build_registry
from .config import Config
from .key_store import key_sources
from .paths import Paths


@dataclass
class CloudGate:
    """Cloud fallbacks only when enabled and within budget.

    Selection asks ``allowed()`` on the event loop, so the budget is a value kept here: ``refresh``
    awaits the ledger's answer (computed on its thread) and stores it on the loop, after each
    request that cost money.
    """

    enabled: bool
    ledger: AsyncLedger
    _within_budget: bool = True

    def allowed(self) -> bool:
        return self.enabled and self._within_budget

    async def refresh(self) -> bool:
        self._within_budget = await self.ledger.call_fn(within_budget)
        return self._within_budget


@dataclass
class Engine:
    config: Config
    paths: Paths
    registry: ModelRegistry
    ledger: AsyncLedger
    bus: EventBus
    selector: SelectionEngine
    runner: StepRunner
    orchestrator: ModelOrchestrator
    chains: ChainLibrary
    cloud: CloudGate
    breaker: CircuitBreaker
    interrupted: list[str] = field(default_factory=list)
    #: The latest budget re-check after a paid request (kept so it is not garbage-collected mid-way).
    budget_refresh: asyncio.Task | None = None
    #: Pull, load, unload, delete on the local backends (providers/lifecycle.py).
    lifecycle: ModelLifecycle | None = None

    @property
    def router(self) -> Router:
        """Every provider call's queue (in-flight and queued counts for the status line and metrics)."""
        return self.runner.router

    async def start(self) -> Engine:
        """Discover models and mark runs a killed process left behind as interrupted."""
        self.interrupted = await self.ledger.recover_interrupted()
        await self.registry.refresh()
        await self.cloud.refresh()
        return self

    async def close(self) -> None:
        await self.ledger.flush()
        await self.registry.close()
        self.ledger.close()


def build_engine(
    config: Config,
    paths: Paths,
    *,
    database: str | None = None,
    clock: Clock | None = None,
    ids: IdSource = new_id,
    available_memory: Callable[[], int] = system_available,
) -> Engine:
    """``clock`` stamps the ledger and every duration, ``ids`` names runs and steps, ``available_memory``
    (bytes) is what the memory guard admits models against (defaults: the real ones)."""
    ledger = AsyncLedger(database or paths.database, clock=clock)
    # Cloud keys from the environment, the key store and the config; each use is logged by key name.
    registry = build_registry(
        config,
        available_memory=available_memory,
        keys=key_sources(config, paths),
        on_key_use=ledger.record_key_use,
    )
    bus = EventBus()
    breaker = CircuitBreaker()
    cloud = CloudGate(config.cloud.enabled, ledger)
    policies = load_policies(paths.policies_file)
    limits = {name: Limit(lim.per_model, lim.total) for name, lim in config.router.limits.items()}
    router = Router(
        limits,
        queue_size=config.router.queue_size,
        host_slots=HostSlots(paths.host_slots, where=backend_address(registry)),
        **({"clock": clock} if clock else {}),
    )
    runner = StepRunner(
        registry,
        ledger,
        bus,
        policy=FallbackPolicy(),
        breaker=breaker,
        guard=registry.guard,
        clock=clock,
        router=router,
    )
    selector = SelectionEngine(
        lambda: registry.models,
        generation=lambda: registry.generation,
        policies=policies,
        allow_cloud=cloud.allowed,
        cooling=runner.cooling,
        any_cooling=runner.any_cooling,
    )
    chains = ChainLibrary.load(paths.user_chains)
    orchestrator = ModelOrchestrator(
        registry,
        ledger,
        selector,
        runner,
        chains=chains,
        stats=lambda led, task_type: PerformanceMonitor(led).snapshot(task_type),
        clock=clock,
        ids=ids,
    )
    engine = Engine(
        config, paths, registry, ledger, bus, selector, runner, orchestrator, chains, cloud, breaker
    )
    engine.lifecycle = build_lifecycle(config, registry)
    # Sequential comparisons unload each model after its turn (unless pinned) instead of hoarding memory.
    orchestrator.comparison.release = engine.lifecycle.release

    def on_paid_request(event: RequestCompleted) -> None:
        # Request rows and their events are stored by the step runner (feedback by chains.feedback).
        if event.request.usage.cost_usd:
            engine.budget_refresh = asyncio.get_running_loop().create_task(cloud.refresh())

    bus.subscribe(RequestCompleted, on_paid_request)
    return engine
