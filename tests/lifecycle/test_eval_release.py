"""`jarvis eval` runs models one after another: each is released (unloaded unless pinned) once its tasks
are done and before the next model's first task."""

from __future__ import annotations

import json

import pytest

from jarvis.app.eval_commands import load
from jarvis.chains.eval_runner import EvalRunner
from jarvis.chains.verify.sandbox import Sandbox
from tests.chains.rig import build_rig
from tests.verify.test_eval import PROBE, SUITE, ScriptedCoders

pytestmark = pytest.mark.slow  # the sandbox runs the graded code in subprocesses


async def test_each_model_is_released_before_the_next_runs(tmp_path):
    engine = build_rig([ScriptedCoders("script")], tmp_path / "ledger.db")
    await engine.registry.refresh()
    order: list[str] = []

    async def release(model_id: str) -> str | None:
        order.append(f"release {model_id}")
        return None

    runner = EvalRunner(
        engine.orchestrator.run,
        registry=engine.registry,
        chains=engine.orchestrator.chains,
        ledger=engine.ledger,
        sandbox=Sandbox(probe=PROBE),
        release=release,
    )
    path = tmp_path / "mini.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in SUITE[:1]) + "\n")
    try:
        await runner.run(
            load(str(path), None, 1),
            ["script/good", "script/bad"],
            ["default"],
            on_progress=lambda p: order.append(f"task {p.model}") if p.result is None else None,
        )
    finally:
        engine.ledger.close()
    # The last model is not released: nothing follows it, and the user may well use it next.
    assert order == ["task script/good", "release script/good", "task script/bad"]
