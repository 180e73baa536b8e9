"""Project mode of the verified chain: files attached and --test-cmd, the project's own tests judge each
candidate's edits on a sandboxed copy; the winner's edits are what `jarvis apply` writes.

A scripted executor answers with edits to the fixture project's parser.py (tests/edits/project.py,
whose test of parse('') fails until the fix)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from jarvis.app.cli import main
from jarvis.app.edits_console import edits_after_run
from jarvis.app.export import verification_markdown
from jarvis.app.verify_export import ExportError, write_tests
from jarvis.chains.context.collect import collect
from jarvis.chains.context.project import ProjectContext
from jarvis.chains.events import RunFailed, RunFinished
from jarvis.chains.ledger_async import AsyncLedger
from jarvis.chains.run_options import RunOptions
from jarvis.chains.verify.events import CandidateChecked, ChecksFound, VerificationFinished
from jarvis.chains.verify.sandbox import Sandbox
from jarvis.chains.verify.store import verification_of
from jarvis.chains.verify.tiers import TierProbe
from jarvis.providers.types import GenerationOptions, Message
from tests.chains.rig import build_rig
from tests.chains.scripted import ScriptedProvider
from tests.edits.project import FIX, PARSER, make_project

pytestmark = pytest.mark.slow  # git and the sandboxed test command are processes

PROBE = TierProbe()
COMMAND = "pytest -q tests/test_parser.py"
TASK = "parse('') must give []"
#: An edit that applies but leaves the test failing (''.strip().split(',') is still ['']).
WRONG = FIX.replace('return text.split(",") if text else []', 'return text.strip().split(",")')
UNMATCHED = FIX.replace('    return text.split(",")\n=', '    return text.split(";")\n=')
NO_EDITS = "Use this:\n```python\ndef parse(text):\n    return text.split(',') if text else []\n```\n"


class Editor(ScriptedProvider):
    """Answers candidate calls from `answers` and repairs from `repairs`, in order; keeps the prompts."""

    models = ("coder-7b",)

    def __init__(self, answers: Sequence[str], repairs: Sequence[str] = ()) -> None:
        super().__init__("script")
        self.answers, self.repairs = list(answers), list(repairs)
        self.prompts: list[tuple[str, str]] = []

    def answer(self, model: str, messages: Sequence[Message], options: GenerationOptions | None) -> str:
        prompt = messages[-1].content
        kind = "repair" if "its tests were run; they failed" in prompt else "code"
        self.prompts.append((kind, prompt))
        return (self.repairs if kind == "repair" else self.answers).pop(0)


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:/usr/bin:/bin")  # the tests' pytest
    return make_project(tmp_path / "proj", git=True)


async def verified_run(db: Path, root: Path, editor: Editor, command: str = COMMAND, **settings) -> list:
    """The run's events, then (when it finished) its stored verification record."""
    rig = build_rig([editor], db)
    rig.orchestrator.chain_runner.sandbox = Sandbox(probe=PROBE)
    try:
        await rig.registry.refresh()
        context = ProjectContext(root, tuple(collect(files=[root / "parser.py"], root=root).attachments))
        options = RunOptions(
            chain="verified",
            model="script/coder-7b",
            use_cache=False,
            context=context,
            test_cmd=command,
            verify_settings=settings,
        )
        events = await rig.events(rig.orchestrator.run(TASK, options))
        await rig.ledger.flush()
        if isinstance(events[-1], RunFinished):
            events.append(await rig.ledger.call_fn(verification_of, events[-1].run_id))
        return events
    finally:
        rig.ledger.close()


def of(events, kind) -> list:
    return [e for e in events if isinstance(e, kind)]


def test_the_candidate_whose_edits_pass_the_tests_wins_and_apply_writes_it(isolated_home, project, capsys):
    editor = Editor([WRONG, FIX, WRONG, WRONG])
    *events, record = asyncio.run(verified_run(isolated_home / "jarvis.db", project, editor))
    finished = events[-1]
    assert isinstance(finished, RunFinished), events[-1]
    assert [k for k, _ in editor.prompts] == ["code", "code"]  # the second passed: no more samples
    assert "To change parser.py, write the file's path" in editor.prompts[0][1]  # asked for edits
    [found] = of(events, ChecksFound)
    assert [c["display"] for c in found.checks] == [f"project tests: {COMMAND}"]
    first, second = of(events, CandidateChecked)
    assert (first.passed, first.total, second.passed) == (0, 1, 1)
    assert first.lines[0].startswith(f"✗ project tests: {COMMAND}: failed (exit status 1) in ")
    assert "[sandbox " in first.lines[0] and any("assert [''] == []" in line for line in first.lines)
    assert second.lines[0].startswith(f"✓ project tests: {COMMAND}: passed in ")
    [verdict] = of(events, VerificationFinished)
    assert verdict.verified and verdict.winner == 1
    assert verdict.status == f"verified: project tests passed (`{COMMAND}`)"
    assert "if text else []" in finished.result.as_json()["answer"]
    assert record["mode"] == "project" and record["winner"] == 1
    assert [c["passed"] for c in record["candidates"]] == [False, True]
    assert record["candidates"][0]["tests"]["exit_code"] == 1
    assert (project / "parser.py").read_text() == PARSER  # nothing is written by the run itself
    markdown = "\n".join(verification_markdown(record))
    assert f"- ✗ `project tests: {COMMAND}` (project): `{COMMAND}` on the patched copy failed" in markdown
    with pytest.raises(ExportError, match="was verified by your project's tests"):
        write_tests({"id": finished.run_id, "verification": record, "task": TASK}, str(project / "out"))

    capsys.readouterr()  # `jarvis apply` (a sync CLI: outside the run's event loop)
    assert main(["apply", finished.run_id, "--yes"]) == 0
    assert '+    return text.split(",") if text else []' in capsys.readouterr().out
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "tests/test_parser.py"], cwd=project, capture_output=True
    )
    assert tests.returncode == 0, tests.stdout.decode()


async def test_a_candidate_without_usable_edits_fails_with_its_reason(isolated_home, project):
    editor = Editor([NO_EDITS, UNMATCHED, FIX])
    *events, record = await verified_run(isolated_home / "jarvis.db", project, editor)
    none, unmatched, fixed = of(events, CandidateChecked)
    assert none.passed == 0
    assert none.lines == (f"✗ project tests: {COMMAND}: not run: it has no edits to the attached files",)
    assert unmatched.passed == 0
    assert unmatched.lines[0] == f"✗ project tests: {COMMAND}: not run: none of its edits can be applied"
    assert unmatched.lines[1].startswith("✗ parser.py (block 1): its SEARCH text matches 0 times")
    assert fixed.passed == 1
    assert [c["reason"] for c in record["candidates"]] == [
        "it has no edits to the attached files",
        "none of its edits can be applied",
        None,
    ]
    assert record["candidates"][1]["refused"][0]["reason"].startswith("its SEARCH text matches 0 times")
    assert record["verified"] and record["winner"] == 2


async def test_a_repair_gets_the_test_output_and_can_win(isolated_home, project):
    editor = Editor([WRONG], repairs=[FIX])
    *events, record = await verified_run(
        isolated_home / "jarvis.db", project, editor, candidates=1, repair_rounds=1
    )
    assert [k for k, _ in editor.prompts] == ["code", "repair"]
    repair_prompt = editor.prompts[1][1]
    assert "return text.strip().split" in repair_prompt  # the answer being repaired
    assert "assert [''] == []" in repair_prompt  # the tests' output tail
    [verdict] = of(events, VerificationFinished)
    assert verdict.verified and verdict.winner == 1 and verdict.rounds == 1
    assert record["candidates"][1]["origin"] == "repair of 1 (round 1)"
    # `jarvis run` then shows the winner's diff with the result its verification already had.
    ledger = AsyncLedger(isolated_home / "jarvis.db")
    try:
        edits = await edits_after_run(ledger, events[-1].run_id, COMMAND)
    finally:
        ledger.close()
    assert edits is not None and [c.path for c in edits.review.changes] == ["parser.py"]
    assert edits.tests is not None and edits.tests.passed
    assert edits.tests.seconds == record["candidates"][1]["tests"]["seconds"]  # not run a second time


async def test_none_passes_unverified_and_a_bad_command_fails_before_the_model(isolated_home, project):
    editor = Editor([WRONG, WRONG])
    *events, record = await verified_run(
        isolated_home / "jarvis.db", project, editor, candidates=2, repair_rounds=0
    )
    [verdict] = of(events, VerificationFinished)
    assert not verdict.verified and verdict.winner == 0
    assert verdict.status.startswith("unverified: no candidate's edits passed the project tests")

    untouched = Editor([FIX])
    events = await verified_run(isolated_home / "other.db", project, untouched, "no-such-tool -q")
    assert isinstance(events[-1], RunFailed)
    assert events[-1].kind == "usage"
    assert "Cannot verify: --test-cmd: no-such-tool is not installed here" in events[-1].message
    assert untouched.prompts == []


def test_the_cli_says_a_bad_test_command_in_one_sentence_before_any_model(
    isolated_home, project, capsys, monkeypatch
):
    monkeypatch.chdir(project)
    args = ["run", "--chain", "verified", "-f", "parser.py", "--test-cmd", "no-such-tool -q", TASK]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "✗ Cannot verify: --test-cmd: no-such-tool is not installed here" in err
    assert "--test-cmd did not run" not in err and "── executor" not in err
