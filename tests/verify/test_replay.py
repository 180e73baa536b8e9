"""bench.verify_replay: stored candidates are ranked again with today's rule, and the summary counts
right winners before and after against the hidden tests' verdicts."""

from __future__ import annotations

from bench.verify_replay import Replayed, before_retries, rerank, summary


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


def test_without_retries_ranks_only_the_candidates_before_them():
    # Two candidates pass 1 of 2 checks, the retry after the repairs passes both.
    record = stored([["1"], ["2"], ["3"]], [[True, False, False]] * 2 + [[True, True, False]], winner=2)
    record["candidates"][2]["origin"] = "retry"
    assert rerank(record) == 2 and before_retries(record) == 0
    del record["candidates"][2]["origin"]
    assert before_retries(record) == 2


def test_summary_counts_right_winners_and_the_ceiling():
    def replay(task: str, stored: int, now: int, no_retries: int, right: tuple) -> Replayed:
        return Replayed("a.db", task, "verified", stored, now, no_retries, right)

    replays = [
        replay("HumanEval/25", 1, 0, 0, (True, False, False)),
        replay("HumanEval/0", 0, 0, 0, (True,)),
        replay("HumanEval/32", 1, 1, 1, (False, False, None)),
        replay("HumanEval/128", 2, 2, 0, (False, False, True)),
    ]
    doc = summary(replays)
    assert (doc["winner_right_stored"], doc["winner_right_now"], doc["some_candidate_right"]) == (2, 3, 3)
    assert doc["winner_right_without_retries"] == 2
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
