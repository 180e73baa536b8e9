"""The ledger's batched writes (what a served request's rows go through): one transaction per batch, each
write still all-or-nothing on its own, every row there after the flush."""

from __future__ import annotations

import signal

import httpx
import pytest

from bench.serve_overhead import BODY
from jarvis.chains.ledger import COMPLETED, Ledger
from jarvis.chains.ledger_async import AsyncLedger
from jarvis.chains.served_store import mark_served, set_http_status


def half_then_fail(ledger: Ledger) -> None:
    """A write that fails after its first statement: its own transaction must leave nothing behind."""
    with ledger.db.conn:
        ledger.db.execute(
            "INSERT INTO runs (id, kind, task, status, started_at) VALUES ('run_half', 'served', 't',"
            " 'running', 0)"
        )
        raise RuntimeError("the second statement failed")


async def test_a_burst_is_one_commit_and_a_failed_write_is_undone_alone(tmp_path):
    ledger = AsyncLedger(tmp_path / "j.db", coalesce_s=60)  # nothing drains until the flush
    statements: list[str] = []
    await ledger.call_fn(lambda led: led.db.conn.set_trace_callback(statements.append))
    for i in range(3):
        ledger.start_run(f"run_{i}", "served", "Say hello.", None, {"task_type": "chat"}, {})
        ledger.submit_fn(lambda led, i=i: mark_served(led, f"run_{i}", client="zed", requested_model="m"))
        ledger.start_step(f"step_{i}", f"run_{i}", 0, "served", 0, "m", "p", "", answer=True)
        if i == 1:
            ledger.submit_fn(half_then_fail)
        ledger.finish_run(f"run_{i}", COMPLETED, result={"answer": "hi"})
        ledger.submit_fn(lambda led, i=i: set_http_status(led, f"run_{i}", 200))
    await ledger.flush()
    commits = [s for s in statements if s.strip().upper() == "COMMIT"]
    assert len(commits) == 1, statements
    assert [type(e) for e in ledger.errors] == [RuntimeError]
    rows = await ledger.call_fn(
        lambda led: led.db.execute("SELECT id, status, client, http_status FROM runs ORDER BY id").fetchall()
    )
    assert rows == [(f"run_{i}", COMPLETED, "zed", 200) for i in range(3)]
    ledger.close()
    # Written to the file, not only visible to the writer's connection.
    again = Ledger(tmp_path / "j.db")
    assert again.db.execute("SELECT count(*) FROM steps").fetchone()[0] == 3
    again.close()


@pytest.mark.slow  # starts jarvis serve and a loopback upstream
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_served_rows_after_the_server_is_stopped_or_killed(isolated_home, sig):
    """jarvis serve's ledger writes go out in batches a few ms after they are made: stopped, it writes
    them all; killed, it loses at most the last few ms of them, and what is there is consistent (a batch
    is one transaction; a run left running reads as interrupted)."""
    from bench import sse_server
    from bench.serve_overhead import start_jarvis

    upstream_proc, upstream = sse_server.start(4)
    proc, url = start_jarvis(upstream, isolated_home)
    try:
        body = {**BODY, "model": "up/bench"}
        with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=30) as resp:
            assert resp.status_code == 200
            assert "data: [DONE]" in resp.read().decode()
        proc.send_signal(sig)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        upstream_proc.terminate()
        upstream_proc.wait(10)
    ledger = Ledger(isolated_home / "jarvis.db")
    try:
        ledger.recover_interrupted()  # what the next start does
        rows = ledger.db.execute("SELECT status, http_status FROM runs WHERE kind='served'").fetchall()
    finally:
        ledger.close()
    if sig == signal.SIGTERM:
        assert rows == [(COMPLETED, 200)]
    else:
        assert rows in ([], [(COMPLETED, 200)], [("interrupted", None)]), rows
