"""What `jarvis run -f` prints after an answer that edits attached files: patches on stdout, each edit's
fate and the next step on stderr, the tests' failure tail."""

from __future__ import annotations

import json

from jarvis.app.edits_console import RunEdits, print_edits
from jarvis.chains.edits.project_tests import ProjectTestResult
from jarvis.chains.edits.review import review_answer
from tests.edits.project import FIX, attached, make_project, no_git

BAD = "cli.py\n```python\nprint(\n```\n"


def test_patch_on_stdout_outcomes_and_hint_on_stderr(tmp_path, capsys):
    root = make_project(tmp_path / "proj")
    review = review_answer(FIX + BAD, root, attached(root, "parser.py", "cli.py"), dirty=no_git)
    failed = ProjectTestResult("pytest -q", False, 1, "bwrap", 1.25, "x\n" * 20 + "1 failed, 1 passed\n")
    print_edits(RunEdits("run-7", review, failed))
    out, err = capsys.readouterr()
    assert out == review.changes[0].patch
    assert "   ✓ parser.py (block 1)\n" in err
    assert "   ✗ cli.py (whole file): the result would not parse as Python (line 1:" in err
    assert "✗ `pytest -q` on the patched copy failed (exit status 1) in 1.2 s [sandbox bwrap]\n" in err
    assert err.count("     x\n") == 14 and "     1 failed, 1 passed\n" in err  # the last 15 lines
    assert err.endswith(
        "Nothing is written yet. Apply: jarvis apply run-7  (undo later: jarvis apply --undo run-7)\n"
    )


def test_nothing_usable_says_so(tmp_path, capsys):
    root = make_project(tmp_path / "proj")
    review = review_answer(BAD, root, attached(root, "cli.py"), dirty=no_git)
    print_edits(RunEdits("run-8", review))
    out, err = capsys.readouterr()
    assert out == "" and err.endswith("None of the answer's edits can be applied; the reasons are above.\n")
    assert RunEdits("run-8", review).as_json()["files"] == []


def test_code_that_names_no_attached_file_is_said_not_passed_over():
    from jarvis.app.edits_console import no_edits_note

    answer = json.dumps({"answer": "Here is the completed code:\n```python\nprint(1)\n```"})
    files = [{"root": "/p", "path": "cli.py"}]
    assert "names an attached file" in no_edits_note({"files": files, "result_json": answer})
    assert no_edits_note({"files": [], "result_json": answer}) is None  # no files: code is the answer
    verified = {"files": files, "result_json": answer, "verification": {"status": "verified"}}
    assert "a verified run's code is checked as written" in no_edits_note(verified)
    plain = json.dumps({"answer": "It parses the arguments."})
    assert no_edits_note({"files": files, "result_json": plain}) is None
