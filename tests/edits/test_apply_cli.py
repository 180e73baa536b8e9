"""`jarvis apply RUN_ID` on a stored run whose answer edits its attached files: diff, ask, apply, undo."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from jarvis.app.cli import main
from jarvis.chains.context.attachment import Attachment
from jarvis.chains.edits.review import sha256_of
from jarvis.chains.ledger import Ledger
from tests.edits.project import FIX, PARSER, make_project

pytestmark = pytest.mark.slow  # the git check runs git


def store_run(home: Path, root: Path, answer: str, run_id: str = "run-fix", *paths: str) -> str:
    """A finished run in the ledger with `paths` attached as they are now and `answer` as its answer."""
    led = Ledger(home / "jarvis.db")
    led.start_run(run_id, "chain", "make parse('') give []", "default", None, None)
    led.finish_run(run_id, "completed", result={"answer": answer, "code_blocks": []})
    files = []
    for p in paths or ("parser.py",):
        data = (root / p).read_bytes()
        files.append(Attachment(p, root / p, sha256_of(data), len(data), 10, data.decode()))
    led.add_run_files(run_id, str(root), files)
    led.close()
    return run_id


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "proj", git=True)


def test_apply_yes_then_undo(isolated_home, project, capsys):
    run_id = store_run(isolated_home, project, FIX)
    assert main(["apply", run_id, "--yes"]) == 0
    out, err = capsys.readouterr()
    assert '+    return text.split(",") if text else []' in out
    assert "✓ parser.py (block 1)" in err and f"Undo: jarvis apply --undo {run_id}" in err
    assert "if text else []" in (project / "parser.py").read_text()
    assert list((isolated_home / "edit-backups" / run_id).iterdir())
    assert main(["apply", "--undo", run_id]) == 0
    assert (project / "parser.py").read_text() == PARSER
    assert "✓ parser.py restored" in capsys.readouterr().err
    assert main(["apply", "--undo", run_id]) == 1
    assert capsys.readouterr().err == f"jarvis: run {run_id} has no applied edits to undo.\n"


def test_without_a_terminal_and_without_yes_nothing_is_written(isolated_home, project, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", open("/dev/null"))  # noqa: SIM115 - closed with the test
    run_id = store_run(isolated_home, project, FIX)
    assert main(["apply", run_id]) == 1
    assert capsys.readouterr().err.endswith(
        "jarvis: not applied: standard input is not a terminal, so I cannot ask; pass --yes to apply"
        " without asking.\n"
    )
    assert (project / "parser.py").read_text() == PARSER


def test_json_carries_patch_validation_and_the_test_result(isolated_home, project, capsys, monkeypatch):
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:/usr/bin:/bin")
    bad = "cli.py\n```python\nprint(\n```\n"
    run_id = store_run(isolated_home, project, FIX + bad, "run-json", "parser.py", "cli.py")
    code = main(["apply", run_id, "--yes", "--json", "--test-cmd", "pytest -q tests/test_parser.py"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["applied"] == ["parser.py"]
    assert doc["files"][0]["patch"].startswith("--- a/parser.py\n+++ b/parser.py\n")
    assert [(e["path"], e["status"]) for e in doc["edits"]] == [("parser.py", "ok"), ("cli.py", "refused")]
    assert doc["edits"][1]["reason"].startswith("the result would not parse as Python")
    assert doc["tests"]["passed"] is True and "2 passed" in doc["tests"]["output_tail"]
    led = Ledger(isolated_home / "jarvis.db")
    rows = led.query("SELECT path, status FROM applies WHERE run_id = ? ORDER BY id", [run_id])
    assert rows == [{"path": "parser.py", "status": "applied"}, {"path": "cli.py", "status": "refused"}]
    assert led.query("SELECT passed FROM edit_tests WHERE run_id = ?", [run_id]) == [{"passed": 1}]


def test_failing_tests_stop_the_apply_unless_forced(isolated_home, project, capsys, monkeypatch):
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:/usr/bin:/bin")
    wrong = FIX.replace("if text else []", "if text else ['']")
    run_id = store_run(isolated_home, project, wrong)
    assert main(["apply", run_id, "--yes", "--test-cmd", "pytest -q tests/test_parser.py"]) == 1
    err = capsys.readouterr().err
    assert "✗ `pytest -q tests/test_parser.py` on the patched copy failed (exit status 1)" in err
    assert err.endswith("jarvis: not applied: the tests fail with the patch; pass --force to apply anyway.\n")
    assert (project / "parser.py").read_text() == PARSER


def test_uncommitted_work_and_later_changes_are_protected(isolated_home, project, capsys):
    (project / "parser.py").write_text(PARSER + "# my work in progress\n")
    run_id = store_run(isolated_home, project, FIX)
    assert main(["apply", run_id, "--yes"]) == 1
    assert "has uncommitted changes in git; commit or stash them first, or pass --force" in (
        capsys.readouterr().err
    )
    assert main(["apply", run_id, "--yes", "--force"]) == 0
    (project / "parser.py").write_text("# changed after the apply\n")
    capsys.readouterr()
    assert main(["apply", "--undo", run_id]) == 1
    assert "✗ parser.py not restored: it changed after the apply" in capsys.readouterr().err
    assert main(["apply", "--undo", run_id, "--force"]) == 0
    assert (project / "parser.py").read_text() == PARSER + "# my work in progress\n"


def test_unknown_runs_and_runs_without_files_are_sentences(isolated_home, capsys):
    assert main(["apply", "nope"]) == 2
    assert capsys.readouterr().err == "jarvis: there is no run nope; `jarvis history` lists them.\n"
    led = Ledger(isolated_home / "jarvis.db")
    led.start_run("plain", "chain", "t", "default", None, None)
    led.close()
    assert main(["apply", "plain"]) == 1
    assert "had no attached files" in capsys.readouterr().err


def test_export_carries_the_edits_and_their_fate(isolated_home, project, capsys):
    run_id = store_run(
        isolated_home, project, FIX + "cli.py\n```python\nprint(\n```\n", "run-x", "parser.py", "cli.py"
    )
    assert main(["apply", run_id, "--yes"]) == 0
    capsys.readouterr()
    assert main(["export", run_id, "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert "## Edits to the attached files\n\n- `parser.py`: applied\n- `cli.py`: refused — the result" in md
    assert "```diff\n--- a/parser.py\n+++ b/parser.py\n" in md
    assert main(["export", run_id, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(a["path"], a["status"]) for a in doc["applies"]] == [
        ("parser.py", "applied"),
        ("cli.py", "refused"),
    ]


def test_applying_twice_says_it_is_already_applied(isolated_home, project, capsys):
    run_id = store_run(isolated_home, project, FIX)
    assert main(["apply", run_id, "--yes"]) == 0
    capsys.readouterr()
    # Not "parser.py changed since it was attached", which hides that this very apply changed it.
    assert main(["apply", run_id, "--yes"]) == 1
    assert capsys.readouterr().err == (
        f"jarvis: run {run_id}'s edits are already applied to parser.py; undo them with"
        f" `jarvis apply --undo {run_id}`.\n"
    )
    assert main(["apply", "--undo", run_id]) == 0
    assert main(["apply", run_id, "--yes"]) == 0  # after an undo it applies again
    assert "if text else []" in (project / "parser.py").read_text()
