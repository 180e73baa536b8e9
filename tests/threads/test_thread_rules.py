"""Threads without a model: bad input as sentences, earlier turns trimmed visibly, check results shown."""

from __future__ import annotations

import json

import pytest

from jarvis.chains import prompts, threads
from jarvis.chains.history_fit import fit_history
from jarvis.chains.ledger import Ledger
from jarvis.chains.specs import RoleSpec
from jarvis.providers.tokens import estimate_prompt_tokens
from jarvis.providers.types import Message


@pytest.fixture
def ledger():
    led = Ledger(":memory:")
    yield led
    led.close()


def _run(ledger: Ledger, run_id: str, status: str, answer: str = "the answer", kind: str = "chain") -> None:
    ledger.start_run(run_id, kind, f"task of {run_id}", "default", None, None)
    if status != "running":
        ledger.finish_run(run_id, status, result={"answer": answer} if status == "completed" else None)


def test_unknown_running_and_failed_runs_are_one_sentence_each(ledger):
    with pytest.raises(threads.ThreadError) as err:
        threads.continuation(ledger, None)
    assert str(err.value) == 'There is no run to continue yet; start one with `jarvis run "TASK"`.'
    _run(ledger, "run_live", "running")
    _run(ledger, "run_bad", "failed")
    _run(ledger, "cmp_one", "completed", kind="compare")
    with pytest.raises(threads.ThreadError, match=r"^There is no run run_nope \(see `jarvis history`\)\.$"):
        threads.continuation(ledger, "run_nope")
    with pytest.raises(threads.ThreadError, match=r"^run_live is still running; wait for it"):
        threads.continuation(ledger, "run_live")
    with pytest.raises(threads.ThreadError, match=r"^run_bad failed without an answer.*regenerate it"):
        threads.continuation(ledger, "run_bad")
    with pytest.raises(threads.ThreadError, match=r"^cmp_one is a comparison; continue it with"):
        threads.continuation(ledger, "cmp_one")
    with pytest.raises(threads.ThreadError, match="run_bad failed without an answer"):
        threads.fork(ledger, "run_bad")
    # A failed turn can be regenerated: that is how it gets an answer.
    turn, again = threads.regeneration(ledger, "run_bad")
    assert turn.task == "task of run_bad" and again.turn == 1 and again.parent_run_id is None


def test_the_earlier_turns_give_way_first_with_a_visible_marker():
    role = RoleSpec(name="executor", system="Be brief.", prompt="{task}")
    history = [
        Message("user", "Write a parser for dates. " * 20),
        Message("assistant", "def parse(text):\n    ...\n" * 200),
        Message("user", "Handle time zones."),
        Message("assistant", "Here is the new version:\n" + "x = 1\n" * 300),
    ]
    built = prompts.build(
        role, {"task": "Now the empty string."}, window=1024, max_tokens=256, model_id="m", history=history
    )
    assert built.est_tokens + 256 <= 1024
    texts = [m.content for m in built.messages]
    assert texts[-1] == "Now the empty string." and texts[0] == "Be brief."
    assert len(built.messages) == 6  # no turn dropped, only cut
    assert "earlier characters left out" in texts[2]
    [notice] = built.notices
    assert notice.startswith("Trimmed the earlier turns from about") and "m's 1024-token window" in notice
    # The first task is the last to be cut: it says what the thread is about.
    assert texts[1] == history[0].content


def test_fit_history_counts_what_it_cut():
    history = [Message("user", "a" * 3000), Message("assistant", "b" * 3000)]
    fitted = fit_history(history, 500)
    assert estimate_prompt_tokens(fitted.messages) <= 500
    kept = [len(m.content.split("\n… ")[0]) + len(m.content.rsplit("…\n", 1)[-1]) for m in fitted.messages]
    cut = sum(len(m.content) for m in history) - sum(kept)
    assert fitted.left_out == cut
    assert fit_history(history, 5000).left_out == 0


def test_a_verified_turn_puts_its_check_results_before_the_next_task(ledger):
    _run(ledger, "run_v", "completed", answer="def f(x): return x")
    record = {
        "status": "1 of 2 checks passed",
        "winner": 0,
        "checks": [{"display": "f(1) == 1", "source": "example"}, {"display": "f(2) == 4", "source": "test"}],
        "candidates": [{"index": 0, "results": [{"passed": True}, {"passed": False, "actual": "2"}]}],
    }
    ledger.db.execute(
        "INSERT INTO verifications (run_id, status, verified, record_json, created_at) VALUES (?,?,?,?,?)",
        ["run_v", record["status"], 0, json.dumps(record), 0.0],
    )
    follow_up = threads.continuation(ledger, "run_v")
    history, lead = follow_up.messages()
    assert [m.role for m in history] == ["user", "assistant"]
    assert lead.startswith("Your code above was run against 2 check(s): 1 of 2 checks passed.")
    assert "- passed: f(1) == 1" in lead and "- FAILED: f(2) == 4, got 2" in lead


def test_a_follow_up_attaches_the_files_again_as_they_are_now(tmp_path):
    from jarvis.app.thread_commands import with_files
    from jarvis.chains.context.project import ProjectContext
    from jarvis.chains.run_options import RunOptions

    (tmp_path / "a.py").write_text("x = 2\n")
    follow = threads.FollowUp(
        "run_1",
        "run_1",
        2,
        files=(
            threads.AttachedAgain(str(tmp_path), "a.py", "changed"),
            threads.AttachedAgain(str(tmp_path), "gone.py", "missing"),
        ),
    )
    options = with_files(RunOptions(follow_up=follow), follow)
    assert [(a.rel_path, a.text) for a in options.context.attachments] == [("a.py", "x = 2\n")]
    # Files given anew (-f, the Context panel) win over the earlier turn's.
    given = RunOptions(context=ProjectContext(tmp_path, ()))
    assert with_files(given, follow) is given


def test_a_follow_up_goes_on_in_its_threads_chain_and_model_unless_told(ledger):
    from jarvis.app.thread_commands import going_on
    from jarvis.chains.run_options import RunOptions

    ledger.start_run("run_c", "chain", "t", "code", None, {"chain": "code", "model": "ollama/q:7b"})
    ledger.finish_run("run_c", "completed", result={"answer": "a"})
    follow = threads.continuation(ledger, "run_c")
    same = going_on(RunOptions(), follow, chain_given=False)
    assert (same.chain, same.model, same.follow_up) == ("code", "ollama/q:7b", follow)
    told = going_on(RunOptions(chain="default", model="embedded/x"), follow, chain_given=True)
    assert (told.chain, told.model) == ("default", "embedded/x")


def test_history_rows_put_a_threads_turns_together_under_its_first_run():
    from jarvis.app.thread_rows import thread_order

    def row(run_id, started, thread=None, parent=None, turn=1):
        return {
            "id": run_id,
            "started_at": started,
            "thread_id": thread or run_id,
            "parent_run_id": parent,
            "turn": turn,
        }

    newest_first = [
        row("run_f", 6, parent="run_a", turn=2),  # a fork of run_a's turn
        row("run_x", 5),
        row("run_r", 4, "run_a", "run_a", 2),  # turn 2 again
        row("run_b", 2, "run_a", "run_a", 2),
        row("run_a", 1),
    ]
    shown = [(r["id"], mark) for r, mark in thread_order(newest_first)]
    assert shown == [
        ("run_f", "⑂ from run_a · "),
        ("run_x", ""),
        ("run_a", ""),
        ("run_b", "  ↳ 2 · "),
        ("run_r", "  ⟳ 2 · "),
    ]


def test_the_cli_says_which_turn_it_runs(capsys):
    from jarvis.app.thread_commands import say_turn

    say_turn(threads.FollowUp("run_b", "run_a", 3), as_json=False)
    say_turn(threads.FollowUp("run_b", None, 3), as_json=False)
    say_turn(threads.FollowUp(None, "run_a", 1), as_json=False)
    say_turn(threads.FollowUp("run_b", "run_a", 3), as_json=True)
    assert capsys.readouterr().err.splitlines() == [
        "── turn 3: after run_b in thread run_a ──",
        "── turn 3: a new thread from run_b ──",
        "── turn 1: the first turn of thread run_a, again ──",
    ]


def test_continue_with_a_run_id_alone_misses_its_text_not_runs_the_id_as_one(isolated_home, capsys):
    from types import SimpleNamespace

    from jarvis.app.cli import main
    from jarvis.app.thread_commands import continued_task

    def given(value, task=None):
        return continued_task(SimpleNamespace(continue_from=value, task=task), "task")

    assert given("now handle the empty list") == (None, "now handle the empty list")
    assert given("run_3f2a9c01b2d4") == ("run_3f2a9c01b2d4", None)
    assert given("run_3f2a9c01b2d4", "and time zones") == ("run_3f2a9c01b2d4", "and time zones")
    assert main(["run", "--continue", "run_3f2a9c01b2d4"]) == 2
    assert (
        capsys.readouterr().err
        == 'jarvis: the follow-up is missing: jarvis run --continue [RUN_ID] "TEXT".\n'
    )


def test_thread_of_a_comparison_says_to_continue_it_with_compare(isolated_home, capsys):
    from jarvis.app.cli import main

    led = Ledger(isolated_home / "jarvis.db")
    _run(led, "cmp_1", "completed", kind="compare")
    _run(led, "run_1", "completed")
    led.close()
    assert main(["thread", "cmp_1"]) == 0
    assert 'Continue it: jarvis compare --continue cmp_1 "…"' in capsys.readouterr().out
    assert main(["thread", "run_1"]) == 0
    assert 'Continue it: jarvis run --continue run_1 "…"' in capsys.readouterr().out
