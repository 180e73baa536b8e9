"""Builds a real engine (registry, ledger, selection, orchestrator) over explicit providers."""

from __future__ import annotations

import pytest

from jarvis.chains.events import Event, RunFinished, TokenDelta
from tests.chains.rig import Rig, build_rig


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
        rig = build_rig(
            providers,
            tmp_path / f"ledger{len(rigs)}.db",
            retry_base=retry_base,
            use_cache=use_cache,
            policies=policies,
            user_chains=user_chains,
            clock=clock,
            ids=ids,
        )
        await rig.registry.refresh()
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.ledger.close()
