"""ModelOrchestrator: the engine's front door, analyse → select per role → run the chain with fallbacks →
synthesize (chains.chain_runner), or one prompt to several models (chains.comparison), as a stream of events.

It owns what both share: the stats snapshot selection reads, kept fresh after each run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from jarvis.providers.registry import ModelRegistry
from jarvis.providers.types import GenerationOptions

from .analyzer import TaskAnalyzer
from .chain_runner import ChainRunner
from .chain_step import ChainStep
from .clock import Clock, IdSource, SystemClock, new_id
from .comparison import Comparison
from .events import Event
from .ledger_async import AsyncLedger
from .run_options import RunOptions
from .selection import ModelStats, SelectionEngine
from .specs import ChainLibrary
from .step_runner import StepRunner
from .synthesizer import ResultSynthesizer
from .threads import FollowUp


class ModelOrchestrator:
    def __init__(
        self,
        registry: ModelRegistry,
        ledger: AsyncLedger,
        selector: SelectionEngine,
        runner: StepRunner,
        *,
        chains: ChainLibrary,
        analyzer: TaskAnalyzer | None = None,
        synthesizer: ResultSynthesizer | None = None,
        stats: Callable[[Any, str], dict[str, ModelStats]] | None = None,
        clock: Clock | None = None,
        ids: IdSource = new_id,
    ) -> None:
        """``stats(ledger, task_type)`` computes selection stats on the ledger thread; ``clock`` and ``ids``
        stamp durations and name runs and steps (tests pass fixed ones)."""
        self.registry = registry
        self.ledger = ledger
        self.selector = selector
        self.runner = runner
        self.chains = chains
        self.clock: Clock = clock or SystemClock()
        self.ids = ids
        analyzer = analyzer or TaskAnalyzer()
        self._stats_fn = stats
        self._stats: dict[str, dict[str, ModelStats]] = {}
        self._pending_refresh: asyncio.Task | None = None
        self.chain_runner = ChainRunner(
            registry,
            ledger,
            ChainStep(ledger, selector, runner, ids),
            chains,
            analyzer=analyzer,
            synthesizer=synthesizer or ResultSynthesizer(),
            stats_for=self.stats_for,
            after_run=self._refresh_later,
            clock=self.clock,
            ids=ids,
        )
        self.comparison = Comparison(registry, ledger, runner, analyzer=analyzer, clock=self.clock, ids=ids)

    def run(
        self, task: str, options: RunOptions | None = None, cancel: asyncio.Event | None = None
    ) -> AsyncIterator[Event]:
        return self.chain_runner.run(task, options, cancel)

    def compare(
        self,
        prompt: str,
        model_ids: Sequence[str],
        options: GenerationOptions | None = None,
        cancel: asyncio.Event | None = None,
        follow_up: FollowUp | None = None,
    ) -> AsyncIterator[Event]:
        return self.comparison.compare(prompt, model_ids, options, cancel, follow_up)

    # -- stats snapshot (kept fresh after each run, off the first-token path) --
    async def stats_for(self, task_type: str) -> dict[str, ModelStats]:
        if self._stats_fn is None:
            return {}
        if task_type not in self._stats:
            self._stats[task_type] = await self.ledger.call_fn(self._stats_fn, task_type)
        return self._stats[task_type]

    async def refresh_stats(self, task_type: str | None = None) -> None:
        if self._stats_fn is None:
            return
        for t in [task_type] if task_type else list(self._stats):
            self._stats[t] = await self.ledger.call_fn(self._stats_fn, t)

    def _refresh_later(self, task_type: str) -> None:
        if self._stats_fn is not None:
            # Scores change with every run; recompute now, off the next run's first-token path.
            self._pending_refresh = asyncio.get_running_loop().create_task(self.refresh_stats(task_type))
