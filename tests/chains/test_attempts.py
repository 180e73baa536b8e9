"""Every model a step tried is on record (run --json, export, History); --no-fallback keeps one model."""

from __future__ import annotations

from jarvis.app.export import run_as_json, run_as_markdown
from jarvis.chains.bus import RequestCompleted, RequestFailed
from jarvis.chains.events import FallbackTaken, RunFailed, StepStarted
from jarvis.chains.run_options import RunOptions
from tests.chains.conftest import BACKUP, PRIMARY, finished

TASK = "Write a Python function that adds two numbers."


async def test_a_step_that_failed_over_mid_stream_lists_both_attempts(flaky):
    rig, proxy = flaky
    heard = []
    rig.bus.subscribe(RequestFailed, heard.append)
    rig.bus.subscribe(RequestCompleted, heard.append)
    proxy.mode, proxy.after_lines = "cut", 6
    options = RunOptions(model=PRIMARY, overrides={"max_tokens": 40})
    events = await rig.events(rig.orchestrator.run(TASK, options))
    [fb] = [e for e in events if isinstance(e, FallbackTaken)]
    done = finished(events)
    await rig.ledger.flush()
    run = await rig.ledger.run(done.run_id)
    doc = run_as_json(run)
    [step] = doc["steps"]
    first, second = step["attempts"]
    assert (first["model"], first["provider"], first["status"], first["error_kind"]) == (
        PRIMARY,
        "flaky",
        "failed",
        "bad_response",
    )
    assert first["error"] and first["partial_text"] == fb.partial_text and first["latency_s"] > 0
    assert (second["model"], second["status"], second["error"]) == (BACKUP, "ok", None)
    assert first["started_at"] <= second["started_at"] <= second["finished_at"]
    # The step names the model that answered, and its reason says why that is not the first choice.
    assert step["model"] == BACKUP and step["reason"].startswith(f"fallback: {PRIMARY} failed (bad_response)")
    markdown = run_as_markdown(run)
    assert f"1. `{PRIMARY}` (flaky): failed" in markdown and f"2. `{BACKUP}` (embedded): ok" in markdown
    # Both requests reached the bus typed, and the ledger stored their events with the rows.
    assert [type(e) for e in heard] == [RequestFailed, RequestCompleted]
    assert heard[0].request.partial_text == fb.partial_text and heard[1].request.usage.completion_tokens
    stored = await rig.ledger.query("SELECT type FROM events WHERE run_id=? ORDER BY id", [done.run_id])
    assert [r["type"] for r in stored] == ["model.request.failed", "model.request.completed"]


async def test_no_fallback_fails_instead_of_answering_with_another_model(flaky):
    rig, proxy = flaky
    proxy.mode, proxy.after_lines = "cut", 6
    options = RunOptions(model=PRIMARY, no_fallback=True, overrides={"max_tokens": 40})
    events = await rig.events(rig.orchestrator.run(TASK, options))
    assert next(e for e in events if isinstance(e, StepStarted)).fallbacks == ()
    failed = events[-1]
    assert isinstance(failed, RunFailed) and "--no-fallback" in failed.message
    assert not any(isinstance(e, FallbackTaken) and e.to_model for e in events)
    await rig.ledger.flush()
    run = await rig.ledger.run(failed.run_id)
    assert run["status"] == "failed" and [a["model"] for a in run["steps"][0]["attempts"]] == [PRIMARY]
