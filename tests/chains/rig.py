"""A real engine (registry, ledger, selection, orchestrator) over explicit providers, wired as app/engine.py
wires it; tests build it here instead of repeating the wiring."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jarvis.chains.bus import EventBus
from jarvis.chains.events import Event
from jarvis.chains.fallback import CircuitBreaker, FallbackPolicy
from jarvis.chains.ledger_async import AsyncLedger
from jarvis.chains.orchestrator import ModelOrchestrator
from jarvis.chains.scores import PerformanceMonitor
from jarvis.chains.selection import SelectionEngine
from jarvis.chains.specs import ChainLibrary
from jarvis.chains.step_runner import StepRunner
from jarvis.providers.catalog import Catalog
from jarvis.providers.registry import ModelRegistry


@dataclass
class Rig:
    registry: ModelRegistry
    ledger: AsyncLedger
    orchestrator: ModelOrchestrator
    runner: StepRunner
    breaker: CircuitBreaker
    bus: EventBus

    async def events(self, gen) -> list[Event]:
        return [e async for e in gen]


def build_rig(
    providers,
    database: str | Path,
    *,
    retry_base: float = 0.01,
    use_cache: bool = True,
    policies=None,
    user_chains=None,
    clock=None,
    ids=None,
) -> Rig:
    """The engine over ``providers`` with its ledger at ``database``; models are not discovered yet
    (await ``rig.registry.refresh()``). ``user_chains``: a folder of the user's chain files."""
    registry = ModelRegistry(providers, catalog=Catalog.shipped(), timeout=5)
    ledger = AsyncLedger(database, clock=clock)
    bus = EventBus()
    breaker = CircuitBreaker()
    runner = StepRunner(
        registry,
        ledger,
        bus,
        policy=FallbackPolicy(base_delay_s=retry_base),
        breaker=breaker,
        guard=registry.guard,
        use_cache=use_cache,
        clock=clock,
    )
    selector = SelectionEngine(
        lambda: registry.models,
        generation=lambda: registry.generation,
        cooling=runner.cooling,
        any_cooling=runner.any_cooling,
        policies=policies,
    )
    orchestrator = ModelOrchestrator(
        registry,
        ledger,
        selector,
        runner,
        chains=ChainLibrary.load(user_chains),
        stats=lambda led, t: PerformanceMonitor(led).snapshot(t),
        clock=clock,
        **({"ids": ids} if ids else {}),
    )
    return Rig(registry, ledger, orchestrator, runner, breaker, bus)
