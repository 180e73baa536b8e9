"""A thread exported as Markdown: each turn's headings go under its turn's heading, and the code in the
answers stays exactly as the model wrote it (a "# comment" or "#!" line is not a heading)."""

from __future__ import annotations

from jarvis.app.thread_export import export_text
from jarvis.chains.ledger import Ledger

CODE = "```python\n#!/usr/bin/env python\n# keep me\ndef f():\n    return 1\n```"


def test_headings_go_under_the_turn_and_code_stays_as_written():
    ledger = Ledger(":memory:")
    try:
        ledger.start_run("run_1", "chain", "write f", "default", None, None)
        ledger.finish_run(
            "run_1", "completed", result={"answer": CODE, "summary_markdown": "## Answer\n\n" + CODE}
        )
        ledger.start_run("run_2", "chain", "now document it", "default", None, None)
        ledger.set_thread("run_2", "run_1", "run_1", 2)
        ledger.finish_run(
            "run_2", "completed", result={"answer": CODE, "summary_markdown": "# Notes\n\n" + CODE}
        )
        text = export_text(ledger, ledger.run("run_2"), as_json=False)
    finally:
        ledger.close()
    assert "## Turn 1: run_1\n\n### Chain run_1" in text
    assert "## Turn 2: run_2 ← exported" in text and "#### Task\n\nnow document it" in text
    assert text.count(CODE) >= 2  # the code of both answers, untouched
    assert "### Notes" in text  # a heading the answer wrote outside its code goes down with the rest
