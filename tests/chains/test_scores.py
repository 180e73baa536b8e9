"""Scores from the ledger: Bradley-Terry recovers a known order, and votes move selection."""

from __future__ import annotations

import random

import pytest

from jarvis.chains.leaderboard import bradley_terry, expand_vote
from jarvis.chains.ledger import Ledger
from jarvis.chains.scores import PerformanceMonitor, shrunk_mean
from jarvis.chains.selection import Request, SelectionEngine
from tests.chains.test_selection import entry


def simulate(true: dict[str, float], n: int, seed: int = 0, ties: float = 0.1) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    names = list(true)
    votes = []
    for _ in range(n):
        a, b = rng.sample(names, 2)
        if rng.random() < ties:
            votes.append((a, b, rng.choice(["tie", "bad"])))
            continue
        pa = true[a] / (true[a] + true[b])
        votes.append((a, b, "A" if rng.random() < pa else "B"))
    return votes


def test_bradley_terry_recovers_a_known_ordering():
    true = {f"m{i}": 1.6**i for i in range(8)}
    standings = bradley_terry(simulate(true, 4000), rounds=200)
    assert [s.model for s in standings] == sorted(true, key=lambda m: -true[m])
    for s in standings:
        assert s.ci_low <= s.rating <= s.ci_high
    top, bottom = standings[0], standings[-1]
    assert top.ci_low > bottom.ci_high, "well-separated models have disjoint intervals"
    assert abs(sum(s.rating for s in standings) / len(standings) - 1000) < 1e-6


def test_ties_count_half_and_intervals_shrink_with_votes():
    few = bradley_terry(simulate({"a": 2, "b": 1}, 40, seed=1), rounds=300)
    many = bradley_terry(simulate({"a": 2, "b": 1}, 4000, seed=1), rounds=300)
    width = lambda s: s.ci_high - s.ci_low  # noqa: E731
    assert width(many[0]) < width(few[0]) / 3
    even = bradley_terry([("a", "b", "tie")] * 50 + [("a", "b", "bad")] * 50, rounds=0)
    assert abs(even[0].rating - even[1].rating) < 1e-6
    assert even[0].wins == 50


def test_expand_vote_for_pairs_and_best_of_n():
    assert expand_vote(["x", "y"], "B") == [("x", "y", "B")]
    assert expand_vote(["x", "y", "z"], "C") == [("z", "x", "A"), ("z", "y", "A")]
    assert len(expand_vote(["x", "y", "z"], "tie")) == 3
    with pytest.raises(ValueError):
        expand_vote(["x", "y"], "C")


def test_votes_feed_selection_for_that_task_type():
    ledger = Ledger(":memory:")
    models = [entry("ollama/alpha"), entry("lmstudio/beta")]
    engine = SelectionEngine(lambda: models, exploration=0.0)
    monitor = PerformanceMonitor(ledger)
    # Users prefer beta for code, alpha for creative writing.
    pair = ("ollama/alpha", "lmstudio/beta")
    ledger.add_votes("cmp_1", [(*pair, "B")] * 12 + [(*pair, "A")] * 2, "code_generation")
    ledger.add_votes("cmp_2", [("ollama/alpha", "lmstudio/beta", "A")] * 10, "creative")
    code = engine.select(Request("code_generation", strategy="quality"), monitor.snapshot("code_generation"))
    creative = engine.select(Request("creative", strategy="quality"), monitor.snapshot("creative"))
    assert code.model.id == "lmstudio/beta" and "votes" in code.reason
    assert creative.model.id == "ollama/alpha"


def test_ratings_are_shrunk_toward_the_prior_and_reset_forgets():
    ledger = Ledger(":memory:")
    ledger.start_run("run_1", "chain", "t", "default", {"task_type": "testing"}, {})
    ledger.start_step("step_1", "run_1", 0, "executor", 0, "embedded/x", "embedded", "")
    ledger.finish_step("step_1", "completed", "out", None)
    ledger.record_request(
        {
            "run_id": "run_1",
            "model_id": "embedded/x",
            "task_type": "testing",
            "status": "ok",
            "latency_s": 1.0,
            "ttft_s": 0.1,
            "tokens_per_s": 50,
        }
    )
    ledger.add_rating("step", "step_1", 5)
    monitor = PerformanceMonitor(ledger)
    [row] = monitor.table("testing")
    assert row["ratings"] == 1 and row["rating_mean"] == pytest.approx(shrunk_mean(5, 1))
    assert row["rating_mean"] < 5
    assert row["success_rate"] == 1.0 and row["latency_p50"] == 1.0
    assert monitor.snapshot("testing")["embedded/x"].rating_mean == row["rating_mean"]
    assert monitor.trends()[0]["requests"] == 1
    monitor.reset("embedded/x", "testing")
    assert monitor.table("testing") == []


def test_a_cancel_is_counted_but_not_held_against_the_model():
    ledger = Ledger(":memory:")
    for status in ("ok", "cancelled", "cancelled"):
        ledger.record_request({"model_id": "m", "status": status, "task_type": "chat", "latency_s": 1.0})
    [row] = PerformanceMonitor(ledger).table("chat")
    assert (row["requests"], row["successes"], row["success_rate"], row["cancelled"]) == (1, 1, 1.0, 2)
    assert PerformanceMonitor(ledger).snapshot("chat")["m"].requests == 1
    [trend] = PerformanceMonitor(ledger).trends()
    assert trend["success_rate"] == 1.0 and trend["cancelled"] == 2
