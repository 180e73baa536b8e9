"""Builds the whole engine (registry, ledger, selection, orchestrator) from config: one place, passed down."""

from __future__ import annotations

from dataclasses import dataclass, field

from jarvis.chains import bus as busmod
from jarvis.chains.bus import BusEvent, EventBus
from jarvis.chains.costs import within_budget
from jarvis.chains.fallback import CircuitBreaker, FallbackPolicy
from jarvis.chains.ledger import AsyncLedger
from jarvis.chains.orchestrator import ModelOrchestrator
from jarvis.chains.policies import load_policies
from jarvis.chains.scores import PerformanceMonitor
from jarvis.chains.selection import SelectionEngine
from jarvis.chains.specs import ChainLibrary
from jarvis.chains.step_runner import StepRunner
from jarvis.providers.registry import ModelRegistry

from .compose import build_registry
from .config import Config
from .paths import Paths


@dataclass
class CloudGate:
    """Cloud fallbacks only when enabled and within budget; the budget is re-read off the event loop."""

    enabled: bool
    within_budget: bool = True

    def allowed(self) -> bool:
        return self.enabled and self.within_budget


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

    async def start(self) -> "Engine":
        """Discover models and mark runs a killed process left behind as interrupted."""
        self.interrupted = await self.ledger.call("recover_interrupted")
        await self.registry.refresh()
        self.cloud.within_budget = await self.ledger.call_fn(within_budget)
        return self

    async def close(self) -> None:
        await self.ledger.flush()
        await self.registry.close()
        self.ledger.close()


def build_engine(config: Config, paths: Paths, *, database: str | None = None) -> Engine:
    registry = build_registry(config)
    ledger = AsyncLedger(database or paths.database)
    bus = EventBus()
    breaker = CircuitBreaker()
    cloud = CloudGate(enabled=config.cloud.enabled)
    policies = load_policies(paths.policies_file)
    runner = StepRunner(registry, ledger, bus, policy=FallbackPolicy(), breaker=breaker, guard=registry.guard)
    selector = SelectionEngine(lambda: registry.models, generation=lambda: registry.generation,
                               policies=policies, allow_cloud=cloud.allowed,
                               cooling=runner.cooling, any_cooling=runner.any_cooling)
    chains = ChainLibrary.load(paths.user_chains)
    orchestrator = ModelOrchestrator(registry, ledger, selector, runner, chains=chains,
                                     stats=lambda led, task_type: PerformanceMonitor(led).snapshot(task_type))
    engine = Engine(config, paths, registry, ledger, bus, selector, runner, orchestrator, chains, cloud, breaker)

    def on_request(event: BusEvent) -> None:
        # Every request is a typed event on the bus and a row in the events table.
        ledger.submit("add_event", event.run_id, event.type, _public(event.payload))
        if event.payload.get("cost_usd"):
            ledger.submit_fn(lambda led: setattr(cloud, "within_budget", within_budget(led)))

    bus.subscribe(busmod.REQUEST_COMPLETED, on_request)
    bus.subscribe(busmod.REQUEST_FAILED, on_request)
    # Feedback events are stored by chains.feedback itself, where the rating or vote is written.
    return engine


def _public(payload: dict) -> dict:
    # Partial text is already in the requests table; events stay small.
    return {k: v for k, v in payload.items() if k != "partial_text"}
