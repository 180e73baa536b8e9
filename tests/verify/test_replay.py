"""bench.verify_replay: stored candidates are ranked again with today's rule, and the summary counts
right winners before and after against the hidden tests' verdicts."""

from __future__ import annotations

from bench.verify_replay import Replayed, rerank, summary


def stored(outputs: list[list[str]], passed: list[list[bool]], winner: int) -> dict:
    """A record as the verified chain stores it: checks with their source, per-candidate results."""
    return {
        "winner": winner,
        "checks": [{"source": "extracted"}, {"source": "extracted"}, {"source": "model"}],
        "candidates": [
            {"outputs": out, "results": [{"passed": p} for p in ps]}
            for out, ps in zip(outputs, passed, strict=True)
        ],
    }


def test_rerank_uses_todays_rule_on_the_stored_outputs():
    # HumanEval/25 as stored: two samples that fail on out-of-contract inputs outvoted the right greedy one.
    right, wrong = ["[2]", "[]", "[]"], ["[2]", "timeout", "raises TypeError"]
    record = stored([right, wrong, wrong], [[True, True, False]] * 3, winner=1)
    assert rerank(record) == 0
    # A model-written check (not authoritative) does not count as a pass.
    record = stored([right, wrong, wrong], [[True, False, True], [True, True, False], [True, True, False]], 0)
    assert rerank(record) == 1


def test_summary_counts_right_winners_and_the_ceiling():
    replays = [
        Replayed("a.db", "HumanEval/25", "verified", stored=1, now=0, right=(True, False, False)),
        Replayed("a.db", "HumanEval/0", "verified", stored=0, now=0, right=(True,)),
        Replayed("a.db", "HumanEval/32", "verified", stored=1, now=1, right=(False, False, None)),
    ]
    doc = summary(replays)
    assert (doc["winner_right_stored"], doc["winner_right_now"], doc["some_candidate_right"]) == (1, 2, 2)
    assert doc["changed"] == [
        {
            "task": "HumanEval/25",
            "chain": "verified",
            "where": "a.db",
            "stored": 1,
            "now": 0,
            "stored_right": False,
            "now_right": True,
        }
    ]
