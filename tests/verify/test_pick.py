"""The verified pick, end to end on scripted candidates: the issue's is_prime example."""

from __future__ import annotations

import json

import pytest

from jarvis.chains.verify.extract import calls_from_text, extract_checks, model_checks
from jarvis.chains.verify.pick import code_hash, pick_candidate
from jarvis.chains.verify.sandbox import Sandbox
from jarvis.chains.verify.tiers import TierProbe

pytestmark = pytest.mark.slow

PROBE = TierProbe()
TASK = "write is_prime(n); is_prime(7) is True, is_prime(1) is False"
RIGHT = "def is_prime(n):\n    return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))\n"
RIGHT_TOO = (
    "def is_prime(n):\n    if n < 2:\n        return False\n"
    "    return not any(n % k == 0 for k in range(2, n))\n"
)
ODD = "def is_prime(n):\n    return n % 2 == 1\n"
BROKEN = "def is_prime(n) return 1\n"


@pytest.fixture
def sandbox():
    return Sandbox(probe=PROBE)


async def test_the_issues_example_picks_a_right_candidate_and_says_verified(sandbox):
    checks = extract_checks(TASK)
    calls = calls_from_text("is_prime(0)\nis_prime(2)\nis_prime(9)\nis_prime(97)", "is_prime")
    pick = await pick_candidate(sandbox, [ODD, BROKEN, RIGHT, RIGHT_TOO], checks, calls)
    assert pick.winner.code == RIGHT and pick.winner.index == 2
    assert pick.verified and pick.status() == "verified: 0 given + 2 extracted checks passed"
    shown = [r.explain() for r in pick.winner.run.results]
    assert shown == ["✓ is_prime(7) is True", "✓ is_prime(1) is False"]
    assert pick.ranking.order[:2] == (2, 3) and pick.ranking.group_of(2) == (2, 3)
    assert "passed 2/2 checks; 2 of 4 candidates agree with it on 4 inputs" in pick.ranking.reason
    assert pick.tier == (await sandbox.tier()).tier
    assert pick.winner.code_hash == code_hash(RIGHT) and len(pick.winner.code_hash) == 16
    record = pick.to_record()
    json.dumps(record)  # plain JSON for the ledger
    assert record["status"] == pick.status() and record["winner"] == 2 and record["tier"] == pick.tier.value
    assert [c["display"] for c in record["checks"]] == ["is_prime(7) is True", "is_prime(1) is False"]
    assert record["checks"][0]["source"] == "extracted" and record["limits"]["cpu_seconds"] > 0
    assert record["candidates"][1]["load_error"].startswith("SyntaxError")
    odd_on_one = record["candidates"][0]["results"][1]
    assert odd_on_one == {"passed": False, "actual": "True", "error": "", "seconds": odd_on_one["seconds"]}
    assert "code" not in record["candidates"][0] and "environ" not in json.dumps(record)


async def test_without_examples_agreement_decides_and_the_pick_is_unverified(sandbox):
    calls = ["is_prime(1)", "is_prime(9)", "is_prime(11)"]
    pick = await pick_candidate(sandbox, [ODD, RIGHT, RIGHT_TOO], [], calls)
    assert pick.winner.index == 1  # the greedy one is alone; the two right ones agree
    assert not pick.verified
    assert pick.status() == "unverified: the task has no examples or tests to check against"


async def test_a_failing_best_says_how_many_checks_it_fails(sandbox):
    pick = await pick_candidate(sandbox, [ODD, BROKEN], extract_checks(TASK))
    assert pick.winner.index == 0
    assert pick.status() == "unverified: the best candidate fails 1 of 2 checks"


async def test_a_wrong_model_check_is_voted_out_and_a_right_one_ranks(sandbox):
    # ODD agrees with the wrong first check and fails the right second one.
    written = "```python\nassert is_prime(9) is True\nassert is_prime(2) is True\n```"
    checks = model_checks(written, entry_point="is_prime")
    assert [c.display for c in checks] == ["is_prime(9) is True", "is_prime(2) is True"]
    pick = await pick_candidate(sandbox, [ODD, RIGHT, RIGHT_TOO], checks)
    assert [c.display for c in pick.kept_model_checks] == ["is_prime(2) is True"]
    assert pick.winner.index == 1  # passes the kept model check; the greedy ODD does not
    assert not pick.verified  # model-written checks never verify on their own


async def test_no_candidates_is_a_clear_error(sandbox):
    with pytest.raises(ValueError, match="no candidates to verify"):
        await pick_candidate(sandbox, [], [])
