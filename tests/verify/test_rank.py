"""Ranking picks the candidate that passes most, then agrees most, then the greedy one."""

from __future__ import annotations

import pytest

from jarvis.chains.verify.rank import Candidate, agreement_groups, rank_candidates, vote_model_checks

A = ("1", "2", "3")
B = ("1", "2", "4")


def test_authoritative_passes_beat_agreement():
    cands = [
        Candidate(0, passed=1, total=2, outputs=A),
        Candidate(1, passed=1, total=2, outputs=A),
        Candidate(2, passed=2, total=2, outputs=B),
    ]
    ranking = rank_candidates(cands)
    assert ranking.winner == 2 and ranking.order == (2, 0, 1)
    assert ranking.reason.startswith("passed 2/2 checks; no other candidate agrees with it on 3 inputs")


def test_among_equal_passes_the_largest_group_wins():
    cands = [
        Candidate(0, outputs=A),
        Candidate(1, outputs=B),
        Candidate(2, outputs=B),
        Candidate(3, outputs=B),
        Candidate(4, outputs=A),
    ]
    ranking = rank_candidates(cands)
    assert ranking.winner == 1 and ranking.order == (1, 2, 3, 0, 4)
    assert ranking.groups == ((1, 2, 3), (0, 4))
    assert ranking.group_of(4) == (0, 4)
    assert "3 of 5 candidates agree with it on 3 inputs" in ranking.reason


def test_a_candidate_that_fails_a_check_does_not_swell_a_passing_group():
    # 0 fails a check but agrees with 1 on the inputs; 2 and 3 pass and agree with each other.
    cands = [
        Candidate(0, passed=1, total=2, outputs=A),
        Candidate(1, passed=2, total=2, outputs=A),
        Candidate(2, passed=2, total=2, outputs=B),
        Candidate(3, passed=2, total=2, outputs=B),
    ]
    ranking = rank_candidates(cands)
    assert ranking.groups == ((2, 3), (0,), (1,))
    assert ranking.winner == 2 and "2 of 4 candidates agree with it" in ranking.reason


def test_inputs_most_of_the_best_candidates_fail_on_are_left_out():
    # HumanEval/25 as stored: a right greedy factorize() returns [] for 0 and -8; two samples that pass the
    # same checks time out or raise there. Those inputs break the task's contract: they decide nothing.
    right = ("[2, 2, 2]", "[]", "[]", "[3, 3]")
    wrong = ("[2, 2, 2]", "timeout", "raises TypeError", "[3, 3]")
    cands = [Candidate(0, 3, 3, right), Candidate(1, 3, 3, wrong), Candidate(2, 3, 3, wrong)]
    ranking = rank_candidates(cands)
    assert ranking.winner == 0 and ranking.groups == ((0, 1, 2),)
    assert "3 of 3 candidates agree with it on 2 inputs" in ranking.reason
    # Where only a minority of the best fail, the input still tells them apart.
    cands = [Candidate(0, 3, 3, right), Candidate(1, 3, 3, right), Candidate(2, 3, 3, wrong)]
    assert rank_candidates(cands).groups == ((0, 1), (2,))
    # Candidates that pass fewer checks have no say in which inputs count.
    cands = [Candidate(0, 3, 3, right), Candidate(1, 2, 3, wrong), Candidate(2, 2, 3, wrong)]
    assert rank_candidates(cands).groups == ((1, 2), (0,))


def test_ties_go_to_the_greedy_sample():
    cands = [Candidate(2, outputs=B), Candidate(0, outputs=A), Candidate(1, outputs=("9",))]
    ranking = rank_candidates(cands)
    assert ranking.winner == 0 and ranking.order == (0, 1, 2)
    assert ranking.reason.endswith("the greedy sample, first among equals")


def test_model_checks_break_ties_after_agreement():
    cands = [Candidate(0, outputs=A), Candidate(1, outputs=B, model_passed=2)]
    assert rank_candidates(cands).winner == 1


def test_candidates_that_never_ran_do_not_form_a_group():
    dead = ("did not load", "did not load", "did not load")
    timeouts = ("timeout", "timeout", "no output: the run timed out")
    cands = [
        Candidate(0, outputs=dead),
        Candidate(1, outputs=dead),
        Candidate(2, outputs=dead),
        Candidate(3, outputs=timeouts),
        Candidate(4, outputs=timeouts),
        Candidate(5, outputs=A),
    ]
    groups = agreement_groups(cands)
    assert all(len(g) == 1 for g in groups)
    assert rank_candidates(cands).winner == 0  # nothing to tell them apart: the greedy one


def test_shared_exceptions_are_behaviour_and_do_group():
    raises = ("raises ValueError", "2", "3")
    groups = agreement_groups([Candidate(0, outputs=raises), Candidate(1, outputs=raises)])
    assert groups == [(0, 1)]


def test_without_inputs_it_is_passes_then_sample_order():
    cands = [
        Candidate(0, passed=0, total=3),
        Candidate(1, passed=3, total=3),
        Candidate(2, passed=3, total=3),
    ]
    ranking = rank_candidates(cands)
    assert ranking.winner == 1 and ranking.reason == "passed 3/3 checks; sample 1, first among equals"


def test_no_candidates_is_a_clear_error():
    with pytest.raises(ValueError, match="no candidates to rank"):
        rank_candidates([])


def test_voting_drops_model_checks_most_candidates_fail():
    passes = [[True, False, True], [True, False, False], [False, True, False], [True, False, True]]
    assert vote_model_checks(passes) == [True, False, True]
    assert vote_model_checks([]) == []
    with pytest.raises(ValueError, match="every candidate needs a result"):
        vote_model_checks([[True], [True, False]])
