"""End to end over the real engine: a scripted model answers a run on an attached file with an edit;
the diff is reviewed, the project's failing test passes on a sandboxed patched copy, apply changes the
file, undo restores it."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from jarvis.app.edits_console import apply_run, review_run, run_tests_on_patch, undo_run
from jarvis.chains.context.collect import collect
from jarvis.chains.context.project import ProjectContext
from jarvis.chains.events import RunFinished
from jarvis.chains.run_options import RunOptions
from jarvis.providers.types import GenerationOptions, Message
from tests.chains.rig import build_rig
from tests.chains.scripted import ScriptedProvider
from tests.edits.project import FIX, PARSER, make_project

pytestmark = pytest.mark.slow  # git and the sandboxed test command are processes


class Editor(ScriptedProvider):
    """Answers every task with the fix for parser.py, and keeps the prompts it got."""

    models = ("coder-7b",)

    def __init__(self) -> None:
        super().__init__("script")
        self.prompts: list[str] = []

    def answer(self, model: str, messages: Sequence[Message], options: GenerationOptions | None) -> str:
        self.prompts.append(messages[-1].content)
        return FIX


async def test_answer_to_diff_to_tests_to_apply_to_undo(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:/usr/bin:/bin")  # the tests' pytest
    root = make_project(tmp_path / "proj", git=True)
    editor = Editor()
    rig = build_rig([editor], tmp_path / "jarvis.db")
    try:
        await rig.registry.refresh()
        collected = collect(files=[root / "parser.py"], root=root)
        context = ProjectContext(root, tuple(collected.attachments))
        events = await rig.events(
            rig.orchestrator.run("parse('') must give []", RunOptions(chain="default", context=context))
        )
        finished = events[-1]
        assert isinstance(finished, RunFinished), events[-1]
        prompt = editor.prompts[0]
        assert "File: parser.py" in prompt
        # After the attached files: how to write a change to them (parser.py is small: whole).
        assert prompt.index("PROJECT CONTEXT>>>") < prompt.index("To change parser.py, write the file's path")
        assert "the WHOLE new file" in prompt
        await rig.ledger.flush()

        review = await review_run(rig.ledger, finished.run_id)
        assert review is not None and [c.path for c in review.changes] == ["parser.py"]
        assert '+    return text.split(",") if text else []' in review.changes[0].patch

        edits = await run_tests_on_patch(
            rig.ledger, finished.run_id, review, "pytest -q tests/test_parser.py"
        )
        assert edits.tests is not None and edits.tests.passed, edits.tests and edits.tests.output_tail
        assert (root / "parser.py").read_text() == PARSER  # the tests ran on a copy

        await apply_run(rig.ledger, tmp_path / "backups", finished.run_id, review)
        assert "if text else []" in (root / "parser.py").read_text()
        [undone] = await undo_run(rig.ledger, finished.run_id) or []
        assert undone.restored and (root / "parser.py").read_text() == PARSER
    finally:
        rig.ledger.close()
