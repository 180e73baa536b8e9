"""Builds a real engine (registry, ledger, selection, orchestrator) over explicit providers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from jarvis.chains.bus import EventBus
from jarvis.chains.events import Event, RunFinished, TokenDelta
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


def text_of(events: list[Event], step_id: str | None = None) -> str:
    return "".join(
        e.text for e in events if isinstance(e, TokenDelta) and (step_id is None or e.step_id == step_id)
    )


def finished(events: list[Event]) -> RunFinished:
    last = events[-1]
    assert isinstance(last, RunFinished), f"run did not finish: {last}"
    return last


@pytest.fixture
def make_rig(tmp_path):
    rigs = []

    async def make(
        providers,
        *,
        retry_base: float = 0.01,
        use_cache: bool = True,
        policies=None,
        user_chains=None,
        clock=None,
        ids=None,
    ) -> Rig:
        """``user_chains``: a folder of the user's chain files; ``clock``/``ids``: the engine's."""
        registry = ModelRegistry(providers, catalog=Catalog.shipped(), timeout=5)
        await registry.refresh()
        ledger = AsyncLedger(tmp_path / f"ledger{len(rigs)}.db", clock=clock)
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
        rig = Rig(registry, ledger, orchestrator, runner, breaker, bus)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.ledger.close()
