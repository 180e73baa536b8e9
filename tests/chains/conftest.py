"""Builds a real engine (registry, ledger, selection, orchestrator) over explicit providers."""

from __future__ import annotations

import pytest

from jarvis.chains.events import Event, RunFinished, TokenDelta
from jarvis.providers.embedded import EmbeddedProvider
from jarvis.providers.openai_compat import OpenAICompatProvider
from tests.chains.rig import Rig, build_rig

#: The flaky fixture's models: the OpenAI-compatible server behind a fault proxy, then the embedded one.
PRIMARY = "flaky/smollm2-135m-instruct"
BACKUP = "embedded/smollm2-135m"


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

    async def make(providers, **options) -> Rig:
        """``options``: build_rig's (``retry_base``, ``use_cache``, ``policies``, ``user_chains``, ...)."""
        rig = build_rig(providers, tmp_path / f"ledger{len(rigs)}.db", **options)
        await rig.registry.refresh()
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.ledger.close()


@pytest.fixture
async def flaky(make_rig, proxy_for, openai_url):
    """A rig whose first model is reached through a fault proxy (returned with it), the backup embedded."""
    proxy = await proxy_for(openai_url)
    rig = await make_rig([OpenAICompatProvider("flaky", proxy.url, timeout=60), EmbeddedProvider()])
    return rig, proxy
