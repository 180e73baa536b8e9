"""Applying writes atomically after a backup; undo restores; the ledger keeps what happened."""

from __future__ import annotations

import stat

import pytest

from jarvis.chains.edits import store
from jarvis.chains.edits.apply import ApplyRefused, apply_review, undo_files
from jarvis.chains.edits.review import review_answer
from jarvis.chains.ledger import Ledger
from tests.edits.project import FIX, PARSER, attached, make_project, no_git


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "proj")


def test_apply_then_undo_round_trip_keeps_mode_and_backup(project, tmp_path):
    (project / "parser.py").chmod(0o640)
    r = review_answer(FIX, project, attached(project, "parser.py"), dirty=no_git)
    [done] = apply_review(r, tmp_path / "backups")
    assert "if text else []" in (project / "parser.py").read_text()
    assert stat.S_IMODE((project / "parser.py").stat().st_mode) == 0o640
    assert (tmp_path / "backups" / "001-parser.py").read_text() == PARSER
    assert not list(project.glob(".parser.py.*"))  # no temp file left
    [undone] = undo_files(project, [done])
    assert undone.restored and (project / "parser.py").read_text() == PARSER


def test_apply_refuses_a_file_changed_after_the_review_and_writes_nothing(project, tmp_path):
    r = review_answer(FIX, project, attached(project, "parser.py"), dirty=no_git)
    (project / "parser.py").write_text(PARSER + "# edited meanwhile\n")
    with pytest.raises(ApplyRefused, match="parser.py changed after the diff was made; nothing was applied"):
        apply_review(r, tmp_path / "backups")
    assert (project / "parser.py").read_text().endswith("# edited meanwhile\n")


def test_undo_leaves_a_file_changed_after_the_apply_unless_forced(project, tmp_path):
    r = review_answer(FIX, project, attached(project, "parser.py"), dirty=no_git)
    done = apply_review(r, tmp_path / "backups")
    (project / "parser.py").write_text("# my later work\n")
    [kept] = undo_files(project, done)
    assert not kept.restored and kept.reason.startswith("it changed after the apply; undoing would lose")
    assert (project / "parser.py").read_text() == "# my later work\n"
    [forced] = undo_files(project, done, force=True)
    assert forced.restored and (project / "parser.py").read_text() == PARSER


def test_nothing_to_apply_is_a_sentence(project, tmp_path):
    r = review_answer("no edits here", project, attached(project, "parser.py"), dirty=no_git)
    with pytest.raises(ApplyRefused, match="no edit that can be applied"):
        apply_review(r, tmp_path / "b")


def test_the_ledger_keeps_proposed_refused_applied_and_undone_rows(project, tmp_path):
    led = Ledger(":memory:")
    led.start_run("run-1", "chain", "fix parse", "default", None, None)
    bad = "parser.py\n<<<<<<< SEARCH\nnope\n=======\nx\n>>>>>>> REPLACE\n"
    r = review_answer(FIX + bad, project, attached(project, "parser.py"), dirty=no_git)
    store.record_review(led, "run-1", r)
    rows = store.applies_of(led, "run-1")
    assert [(x["path"], x["status"]) for x in rows] == [("parser.py", "proposed"), ("parser.py", "refused")]
    assert rows[0]["patch"] == r.changes[0].patch and rows[1]["reason"].startswith(
        "its SEARCH text matches 0"
    )
    files = apply_review(r, tmp_path / "b")
    store.record_applied(led, "run-1", str(project), files)
    root, live = store.applied_files(led, "run-1")
    assert root == str(project) and live == files
    store.record_undone(led, "run-1", undo_files(project, live))
    assert store.applied_files(led, "run-1") == (None, [])
    assert [x["status"] for x in store.applies_of(led, "run-1")] == ["undone", "refused"]
    store.record_test_result(led, "run-1", {"command": "pytest", "passed": True, "tier": "bwrap"})
    assert store.test_results_of(led, "run-1")[0]["passed"] == 1
