"""run_files: what a run had attached is stored with it (content only when asked) and read back typed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from jarvis.chains.context.attachment import INCLUDED, LEFT_OUT, Attachment, RunFile
from jarvis.chains.ledger import Ledger
from jarvis.chains.ledger_async import AsyncLedger


def _att(path: str, text: str, status: str = INCLUDED) -> Attachment:
    return Attachment(path, Path("/p") / path, "ab" * 32, len(text), 3, text, status)


def test_paths_hashes_and_tokens_stored_without_content_unless_kept(tmp_path):
    ledger = Ledger(tmp_path / "j.db")
    ledger.start_run("run_a", "chain", "t", "default", {}, {})
    ledger.start_run("run_b", "chain", "t", "default", {}, {})
    ledger.add_run_files("run_a", "/p", [_att("a.py", "x = 1\n"), _att("big.py", "y\n", LEFT_OUT)])
    ledger.add_run_files("run_b", "/p", [_att("a.py", "x = 1\n")], keep_content=True)
    rows = ledger.run_files("run_a")
    assert rows == [
        RunFile("run_a", "/p", "a.py", "ab" * 32, 6, 3, INCLUDED, None),
        RunFile("run_a", "/p", "big.py", "ab" * 32, 2, 3, LEFT_OUT, None),
    ]
    assert ledger.run_files("run_b")[0].content == "x = 1\n"
    assert rows[0].abs_path == Path("/p/a.py")
    assert ledger.delete_run("run_a") and ledger.run_files("run_a") == []
    ledger.close()


def test_async_ledger_writes_and_reads_run_files(tmp_path):
    async def go() -> list[RunFile]:
        led = AsyncLedger(tmp_path / "j.db")
        led.start_run("run_c", "chain", "t", "default", {}, {})
        led.add_run_files("run_c", "/p", [_att("c.py", "z")])
        try:
            return await led.run_files("run_c")
        finally:
            led.close()

    assert [r.path for r in asyncio.run(go())] == ["c.py"]
