"""The verified chain: scripted candidates (chosen code per call) through the real engine and sandbox.

Checked: the cheap path, a right sample beating a wrong greedy one, repairs kept or not, budgets, the
agreement ranking with no checks, opt-in, the ledger record, the JSON shape and the CLI.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import pytest

from jarvis.chains.events import Notice, RunFailed, RunFinished, StepStarted
from jarvis.chains.run_options import RunOptions
from jarvis.chains.specs import ChainLibrary, parse_chain
from jarvis.chains.verify.events import CandidateChecked, ChecksFound, VerificationFinished
from jarvis.chains.verify.sandbox import Sandbox
from jarvis.chains.verify.settings import VerifySettings
from jarvis.chains.verify.store import verification_of
from jarvis.chains.verify.task_checks import candidate_code, gather_checks, task_prelude
from jarvis.chains.verify.tiers import TierProbe
from jarvis.providers.errors import BadResponse
from jarvis.providers.types import GenerationOptions, Message
from tests.chains.rig import build_rig
from tests.chains.scripted import ScriptedProvider
from tests.test_cli import jarvis, write_config

PROBE = TierProbe()  # one probe for the module: the machine does not change between tests
TASK = "Write is_prime(n). is_prime(7) is True, is_prime(1) is False, is_prime(9) is False"
RIGHT = "def is_prime(n):\n    return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))"
ODD = "def is_prime(n):\n    return n % 2 == 1"  # right on 7, wrong on 1 and 9
NEVER = "def is_prime(n):\n    return False"  # right on 1 and 9, wrong on 7
ODD_BUT_ONE = "def is_prime(n):\n    return n % 2 == 1 and n != 1"  # fixes 1, still wrong on 9
BROKEN = "the provider fails on this call"


def fenced(code: str) -> str:
    return f"```python\n{code}\n```\nDone."


class ScriptedCoder(ScriptedProvider):
    """Answers code calls from `answers` in order, repairs from `repairs`, input requests with `inputs`;
    keeps every call's kind and options."""

    def __init__(
        self, name: str, answers: Sequence[str] = (), repairs: Sequence[str] = (), inputs: str = ""
    ) -> None:
        super().__init__(name)
        self.answers, self.repairs, self.inputs = list(answers), list(repairs), inputs
        self.calls: list[tuple[str, GenerationOptions | None]] = []
        self.prompts: list[str] = []

    def answer(self, model: str, messages: Sequence[Message], options: GenerationOptions | None) -> str:
        prompt = messages[-1].content
        if "different calls to" in prompt:
            kind, text = "inputs", self.inputs
        elif "It was run against the task's checks" in prompt:
            kind, text = "repair", fenced(self.repairs.pop(0))
        elif "VERDICT" in (messages[0].content if messages else ""):
            kind, text = "review", "VERDICT: REVISE\n- looks odd"
        else:
            # Out of scripted answers: the model says its last one again (a sample that agrees).
            code = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
            if code == BROKEN:  # from here on every code call fails, retried or not
                self.answers.insert(0, BROKEN)
                self.calls.append(("failed", options))
                raise BadResponse("The model's answer could not be read.")
            kind, text = "code", fenced(code)
        self.calls.append((kind, options))
        self.prompts.append(prompt)
        return text


class CountingSandbox(Sandbox):
    """The real sandbox, counting its runs (opt-in: nothing runs without verify)."""

    runs = 0

    async def run(self, code, **kwargs):
        self.runs += 1
        return await super().run(code, **kwargs)


class Rig:
    def __init__(self, tmp_path, coder: ScriptedCoder, db=None) -> None:
        self.tmp_path, self.coder = tmp_path, coder
        engine = build_rig([coder], db or tmp_path / "ledger.db")
        self.registry, self.ledger, self.orchestrator = engine.registry, engine.ledger, engine.orchestrator
        self.chains = self.orchestrator.chains
        self.sandbox = CountingSandbox(probe=PROBE)
        self.orchestrator.chain_runner.sandbox = self.sandbox

    async def run(self, task: str = TASK, **options) -> list:
        await self.registry.refresh()
        opts = RunOptions(**{"chain": "verified", "model": "script/coder", "use_cache": False, **options})
        return [e async for e in self.orchestrator.run(task, opts)]

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.coder.calls]


@pytest.fixture
def make_rig(tmp_path):
    rigs: list[Rig] = []

    def make(answers=(), repairs=(), inputs="") -> Rig:
        rig = Rig(tmp_path, ScriptedCoder("script", answers, repairs, inputs))
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.ledger.close()


def of(events, kind) -> list:
    return [e for e in events if isinstance(e, kind)]


# -- pure parts ------------------------------------------------------------------------------------
def test_checks_given_first_then_extracted_and_bad_examples_in_one_sentence():
    checks, entry = gather_checks(TASK, examples=["is_prime(2) -> True"])
    assert entry == "is_prime"
    assert [(c.source, c.display) for c in checks] == [
        ("given", "is_prime(2) is True"),
        ("extracted", "is_prime(7) is True"),
        ("extracted", "is_prime(1) is False"),
        ("extracted", "is_prime(9) is False"),
    ]
    assert [c.source for c in gather_checks(TASK, extract=False)[0]] == []
    with pytest.raises(ValueError, match="the example 'seven is prime' cannot be used: write the example as"):
        gather_checks(TASK, examples=["seven is prime"])
    with pytest.raises(ValueError, match="not valid Python"):
        gather_checks(TASK, tests="def test_(:\n")


def test_candidate_code_after_the_tasks_prelude():
    task = "Complete this:\n```python\nfrom typing import List\n\ndef f(x: List[int]) -> int:\n    ...\n```"
    prelude = task_prelude(task)
    assert prelude.startswith("from typing import List")
    code = candidate_code(
        fenced("def helper():\n    pass") + fenced("def f(x):\n    return 1"), "f", prelude=prelude
    )
    assert code.startswith("from typing import List") and code.rstrip().endswith("return 1")
    assert "helper" not in code
    assert candidate_code("no code here", "f") == ""


def test_chain_switch_and_settings():
    spec = parse_chain(
        'name = "v"\n[verify]\ncandidates = 2\nrepair = false\n[[roles]]\nname = "e"\nproduces = "code"\n',
        "test",
    )
    assert spec.verify == VerifySettings(candidates=2, repair=False)
    assert parse_chain('name = "v"\nverify = false\n[[roles]]\nname = "e"\n', "t").verify is None
    assert ChainLibrary.load(None).get("code").verify is None
    with pytest.raises(ValueError):
        VerifySettings().with_overrides({"repair_rounds": 3})


# -- the chain, through the engine and the sandbox -------------------------------------------------
@pytest.mark.slow
async def test_cheap_path_stops_after_one_candidate(make_rig):
    rig = make_rig(answers=[RIGHT])
    events = await rig.run(verify_settings={"confirm": 0})
    assert rig.kinds() == ["code"]
    [found] = of(events, ChecksFound)
    assert [c["source"] for c in found.checks] == ["extracted"] * 3 and found.entry_point == "is_prime"
    [checked] = of(events, CandidateChecked)
    assert checked.passed == checked.total == 3 and all(line.startswith("✓") for line in checked.lines)
    [done] = of(events, VerificationFinished)
    assert done.verified and done.status == "verified: 0 given + 3 extracted checks passed"
    assert done.candidates == 1 and done.rounds == 0 and done.record["model_calls"] == 1
    finished = events[-1]
    assert isinstance(finished, RunFinished) and "n ** 0.5" in finished.result.code_blocks[0].code


# Right on the task's three examples, wrong on 25 and 49: the examples do not pin the behaviour down.
SQUARES = "def is_prime(n):\n    return n > 1 and all(n % d for d in range(2, 4))"


@pytest.mark.slow
async def test_one_agreeing_sample_confirms_a_greedy_pass(make_rig):
    rig = make_rig(answers=[RIGHT, RIGHT.replace("n ** 0.5", "n**0.5")], inputs="is_prime(25)\nis_prime(2)")
    events = await rig.run(verify_settings={"confirm": 3, "mutations": 0})
    # Inputs, then one sample that behaves the same: the other two samples could only tie.
    assert rig.kinds() == ["code", "inputs", "code"]
    [done] = of(events, VerificationFinished)
    assert done.verified and done.winner == 0 and done.candidates == 2
    assert done.reason == (
        "passed 3/3 checks; 2 of 2 candidates agree with it on 2 inputs;"
        " the greedy candidate, first among equals"
    )
    # One confirming sample could only tie with the passer: neither it nor the inputs are asked for.
    rig = make_rig(answers=[RIGHT, ODD], inputs="is_prime(25)")
    await rig.run(verify_settings={"confirm": 1, "mutations": 0})
    assert rig.kinds() == ["code"]


@pytest.mark.slow
async def test_samples_that_agree_outvote_a_greedy_pass_the_examples_miss(make_rig):
    rig = make_rig(answers=[SQUARES, RIGHT, RIGHT, NEVER], inputs="is_prime(25)\nis_prime(49)\nis_prime(13)")
    events = await rig.run(verify_settings={"confirm": 3, "mutations": 0})
    # The greedy one is outnumbered by two samples that agree with each other; the last sample could
    # only tie them, so it is not drawn.
    assert rig.kinds() == ["code", "inputs", "code", "code"]
    [done] = of(events, VerificationFinished)
    assert done.verified and done.winner == 1
    assert "2 of 3 candidates agree with it on 3 inputs" in done.reason
    assert "n ** 0.5" in events[-1].result.answer


@pytest.mark.slow
async def test_mutated_examples_find_what_the_models_inputs_miss(make_rig):
    # The model proposes only inputs where the candidates agree; is_prime(1) + 1 = is_prime(2) does not.
    two_not_prime = RIGHT.replace("n > 1", "n > 2")
    rig = make_rig(answers=[two_not_prime, RIGHT, RIGHT, NEVER], inputs="is_prime(13)\nis_prime(4)")
    events = await rig.run(verify_settings={"confirm": 3})
    [done] = of(events, VerificationFinished)
    assert "is_prime(2)" in done.record["calls"] and "is_prime(0)" in done.record["calls"]
    assert done.verified and done.winner == 1 and "n > 1" in events[-1].result.answer
    rig = make_rig(answers=[two_not_prime, RIGHT, RIGHT, NEVER], inputs="is_prime(13)\nis_prime(4)")
    events = await rig.run(verify_settings={"confirm": 3, "mutations": 0})
    assert of(events, VerificationFinished)[0].winner == 0  # without them the wrong greedy one stays


@pytest.mark.slow
async def test_a_split_vote_keeps_the_greedy_pass(make_rig):
    rig = make_rig(answers=[SQUARES, RIGHT, NEVER, SQUARES], inputs="is_prime(25)\nis_prime(13)")
    events = await rig.run(verify_settings={"confirm": 3, "mutations": 0})
    # NEVER fails the checks; RIGHT alone cannot outvote the greedy one once the last sample sides with it.
    assert rig.kinds() == ["code", "inputs", "code", "code", "code"]
    [done] = of(events, VerificationFinished)
    assert done.winner == 0 and "2 of 4 candidates agree with it" in done.reason


@pytest.mark.slow
async def test_right_sample_beats_wrong_greedy_with_a_reason(make_rig):
    rig = make_rig(answers=[ODD, NEVER, RIGHT, ODD])
    events = await rig.run(verify_settings={"confirm": 0})
    # The third candidate passes everything: sampling stops there, no inputs, no repair.
    assert rig.kinds() == ["code", "code", "code"]
    temps = [(o.temperature, o.seed) for _, o in rig.coder.calls]
    assert temps[0][0] == 0.0 and temps[1] == (0.8, 1) and temps[2] == (0.8, 2)
    notices = [e.text for e in of(events, Notice)]
    assert "candidate 2/6 (temperature 0.8, seed 1)" in notices
    assert [(c.candidate, c.passed) for c in of(events, CandidateChecked)] == [(0, 1), (1, 2), (2, 3)]
    failed = of(events, CandidateChecked)[0].lines
    assert failed[1] == "✗ is_prime(1) is False: got True"
    [done] = of(events, VerificationFinished)
    assert done.verified and done.winner == 2 and done.reason.startswith("passed 3/3 checks")
    assert done.reason == "passed 3/3 checks; candidate 3, sampled"
    assert "n ** 0.5" in events[-1].result.answer


@pytest.mark.slow
async def test_a_sampled_pass_is_confirmed_and_can_be_outvoted(make_rig):
    # The first sample to pass the examples is wrong on 25 and 49; two later samples agree on the right
    # behaviour, past the 3 candidates (labelled as confirming).
    rig = make_rig(answers=[ODD, SQUARES, RIGHT, RIGHT], inputs="is_prime(25)\nis_prime(49)")
    events = await rig.run(verify_settings={"candidates": 3, "confirm": 3, "mutations": 0})
    assert rig.kinds() == ["code", "code", "inputs", "code", "code"]
    assert "candidate 4, confirming (temperature 0.8, seed 3)" in [e.text for e in of(events, Notice)]
    [done] = of(events, VerificationFinished)
    assert done.verified and done.winner == 2 and done.candidates == 4
    assert done.reason == (
        "passed 3/3 checks; 2 of 4 candidates agree with it on 2 inputs;"
        " candidate 3, sampled, first among equals"
    )
    assert "n ** 0.5" in events[-1].result.answer
    # A sample that agrees with the passer settles it at once; no inputs to compare on, nothing to confirm.
    rig = make_rig(answers=[ODD, RIGHT, RIGHT, SQUARES], inputs="is_prime(25)")
    events = await rig.run(verify_settings={"candidates": 3, "confirm": 3, "mutations": 0})
    assert rig.kinds() == ["code", "code", "inputs", "code"]
    assert of(events, VerificationFinished)[0].winner == 1
    rig = make_rig(answers=[ODD, SQUARES, RIGHT], inputs="no calls here")
    events = await rig.run(verify_settings={"candidates": 3, "confirm": 3, "mutations": 0})
    assert rig.kinds() == ["code", "code", "inputs"] and of(events, VerificationFinished)[0].winner == 1


@pytest.mark.slow
async def test_repair_that_fixes_is_kept_and_one_that_breaks_is_not(make_rig):
    # Two candidates, both wrong; the first repair breaks a passing check, the second fixes all.
    rig = make_rig(answers=[ODD, ODD_BUT_ONE], repairs=[NEVER, RIGHT], inputs="is_prime(2)\nis_prime(15)")
    events = await rig.run(verify_settings={"candidates": 2, "repair_width": 1, "repair_rounds": 2})
    assert rig.kinds() == ["code", "code", "repair", "repair"]
    checked = of(events, CandidateChecked)
    rejected = [c for c in checked if not c.kept]
    assert len(rejected) == 1 and rejected[0].note == "it breaks a check that passed before"
    [done] = of(events, VerificationFinished)
    assert done.verified and done.rounds == 2 and done.record["rejected_repairs"][0]["repair_of"] == 1
    winner = done.record["candidates"][done.winner]
    assert winner["origin"] == "repair of 2 (round 2)"
    assert done.reason == "passed 3/3 checks; candidate 3, a repair of 2 (round 2)"
    rounds = [e.round for e in of(events, StepStarted)]
    assert rounds == [0, 0, 1, 2]


@pytest.mark.slow
async def test_retries_after_the_repairs_until_one_passes(make_rig):
    # Neither candidate passes and the repair breaks a check: fresh samples follow, up to the first
    # that passes every check, and no further.
    rig = make_rig(answers=[ODD, NEVER, ODD, RIGHT, ODD], repairs=[NEVER])
    settings = {"candidates": 2, "repair_width": 1, "confirm": 0, "agreement": False}
    events = await rig.run(verify_settings=settings)
    assert rig.kinds() == ["code", "code", "repair", "code", "code"]
    notices = [e.text for e in of(events, Notice)]
    assert "candidate 3, another try (temperature 0.8, seed 2)" in notices
    assert "candidate 4, another try (temperature 0.8, seed 3)" in notices
    [done] = of(events, VerificationFinished)
    assert done.verified and done.winner == 3 and done.candidates == 4
    assert done.reason == "passed 3/3 checks; candidate 4, sampled after the repairs"
    assert [c["origin"] for c in done.record["candidates"]] == ["greedy", "sample", "retry", "retry"]
    assert done.record["settings"]["retries"] == 6 and done.record["model_calls"] == 5
    # Switched off, or with none of them passing, the best of the failures is shown as unverified.
    rig = make_rig(answers=[ODD, NEVER, ODD], repairs=[NEVER])
    events = await rig.run(verify_settings=settings | {"retries": 0})
    assert rig.kinds() == ["code", "code", "repair"]
    assert not of(events, VerificationFinished)[0].verified
    rig = make_rig(answers=[ODD, NEVER, ODD], repairs=[NEVER])
    events = await rig.run(verify_settings=settings | {"retries": 2})
    assert rig.kinds() == ["code", "code", "repair", "code", "code"]
    [done] = of(events, VerificationFinished)
    assert not done.verified and done.candidates == 4
    # Out of model calls among the retries: the best failure, and the status says why.
    rig = make_rig(answers=[ODD, NEVER, ODD], repairs=[NEVER])
    events = await rig.run(verify_settings=settings | {"max_model_calls": 5})
    assert rig.kinds() == ["code", "code", "repair", "code", "code"]
    [done] = of(events, VerificationFinished)
    assert not done.verified and "the budget of 5 model calls is used up" in done.status


@pytest.mark.slow
async def test_a_failed_sample_ends_the_sampling_without_retries(make_rig):
    rig = make_rig(answers=[ODD, BROKEN, RIGHT], repairs=[NEVER])
    events = await rig.run(verify_settings={"candidates": 3, "repair_width": 1, "agreement": False})
    assert rig.kinds()[0] == "code" and rig.kinds()[-1] == "repair" and set(rig.kinds()[1:-1]) == {"failed"}
    assert any(e.text.startswith("Candidate 2 failed (") for e in of(events, Notice))
    [done] = of(events, VerificationFinished)
    assert not done.verified and done.candidates == 1 and isinstance(events[-1], RunFinished)


@pytest.mark.slow
async def test_a_retry_that_passes_is_confirmed_on_the_inputs_asked_before(make_rig):
    # A tie on the checks asks for inputs before the repairs; the retry that passes is then compared
    # on the same inputs (no second inputs call), and one agreeing sample confirms it.
    rig = make_rig(answers=[ODD, ODD, ODD, RIGHT, RIGHT], repairs=[NEVER], inputs="is_prime(25)\nis_prime(2)")
    events = await rig.run(verify_settings={"candidates": 2, "repair_width": 1, "mutations": 0})
    assert rig.kinds() == ["code", "code", "inputs", "repair", "code", "code", "code"]
    assert "candidate 5, confirming (temperature 0.8, seed 4)" in [e.text for e in of(events, Notice)]
    [done] = of(events, VerificationFinished)
    assert done.verified and done.winner == 3 and all(c["outputs"] for c in done.record["candidates"])
    assert done.reason == (
        "passed 3/3 checks; 2 of 5 candidates agree with it on 2 inputs;"
        " candidate 4, sampled after the repairs, first among equals"
    )


@pytest.mark.slow
async def test_console_and_markdown_show_checks_marks_and_the_verdict(make_rig, capsys):
    from jarvis.app.export import verification_markdown
    from jarvis.app.run_console import _render

    rig = make_rig(answers=[ODD, ODD_BUT_ONE], repairs=[NEVER, RIGHT])
    events = await rig.run(
        verify_settings={"candidates": 2, "repair_width": 1, "repair_rounds": 2, "agreement": False}
    )
    for event in events:
        if not isinstance(event, StepStarted):
            _render(event)
    err = capsys.readouterr().err
    assert "── checks of is_prime(): 3 · sandbox " in err and "extracted: is_prime(9) is False" in err
    assert "candidate 1/2: 1/3 checks passed" in err and "✗ is_prime(9) is False: got True" in err
    assert "not kept: it breaks a check that passed before" in err
    assert "✓ verified: 0 given + 3 extracted checks passed" in err and "winner: candidate 3" in err
    [done] = of(events, VerificationFinished)
    text = "\n".join(verification_markdown(done.record))
    assert "### Winner: candidate 3 (repair of 2 (round 2))" in text
    assert "- ✓ `is_prime(7) is True` (extracted)" in text
    assert "Repair of candidate 2 (round 1) not kept: it breaks a check that passed before" in text


def test_bench_ablation_chains_each_turn_one_piece_off():
    from pathlib import Path

    lib = ChainLibrary.load(Path(__file__).parents[2] / "bench" / "chains")
    assert not lib.problems
    pieces = {
        name: (s.verify.candidates, s.verify.examples, s.verify.agreement, s.verify.repair, s.verify.retries)
        for name, s in lib.chains.items()
        if s.verify
    }
    assert pieces == {
        "verified": (6, True, True, True, 6),
        "verified-examples": (6, True, False, False, 0),
        "verified-agreement": (6, False, True, False, 0),
        "verified-repair": (1, True, False, True, 0),
        "verified-no-repair": (6, True, True, False, 0),
        "verified-no-retries": (6, True, True, True, 0),
    }


@pytest.mark.slow
async def test_cancel_between_candidates_ends_the_run_cancelled(make_rig):
    from jarvis.chains.events import RunCancelled

    rig = make_rig(answers=[ODD, NEVER, RIGHT, ODD])
    await rig.registry.refresh()
    cancel = asyncio.Event()
    events = []
    opts = RunOptions(chain="verified", model="script/coder", use_cache=False)
    async for event in rig.orchestrator.run(TASK, opts, cancel):
        events.append(event)
        if isinstance(event, CandidateChecked):
            cancel.set()
    assert isinstance(events[-1], RunCancelled) and len(of(events, CandidateChecked)) == 1
    assert not of(events, VerificationFinished)


@pytest.mark.slow
async def test_budget_of_model_calls_is_respected(make_rig):
    rig = make_rig(answers=[ODD, NEVER, ODD_BUT_ONE, ODD])
    events = await rig.run(verify_settings={"max_model_calls": 2})
    assert rig.kinds() == ["code", "code"]
    [done] = of(events, VerificationFinished)
    assert not done.verified and "the budget of 2 model calls is used up" in done.status
    assert done.record["model_calls"] == 2 and isinstance(events[-1], RunFinished)


@pytest.mark.slow
async def test_no_checks_ranks_by_agreement(make_rig):
    task = "Write is_prime(n) that says whether n is a prime number."
    rig = make_rig(answers=[ODD, RIGHT, RIGHT], inputs="is_prime(9)\nis_prime(2)\nis_prime(1)\nnot a call")
    events = await rig.run(task, verify_settings={"candidates": 3, "mutations": 0})
    assert rig.kinds() == ["code", "code", "code", "inputs"]
    [done] = of(events, VerificationFinished)
    assert not done.verified and done.status.startswith("unverified: the task has no examples or tests")
    assert done.winner == 1 and "2 of 3 candidates agree with it on 3 inputs" in done.reason
    assert done.record["calls"] == ["is_prime(9)", "is_prime(2)", "is_prime(1)"]
    # Each candidate's outputs on those calls are stored, so the agreement can be read back.
    outputs = [c["outputs"] for c in done.record["candidates"]]
    assert outputs[1] == outputs[2] != outputs[0] and len(outputs[0]) == 3


@pytest.mark.slow
async def test_a_tie_on_the_checks_is_broken_by_agreement(make_rig):
    rig = make_rig(answers=[ODD, NEVER, ODD], inputs="is_prime(3)\nis_prime(4)")
    events = await rig.run(verify_settings={"candidates": 3, "repair": False, "retries": 0, "mutations": 0})
    # 1/3, 2/3, 1/3: one best, no inputs needed.
    assert rig.kinds() == ["code"] * 3 and not of(events, VerificationFinished)[0].verified
    rig = make_rig(answers=[NEVER, ODD_BUT_ONE, ODD_BUT_ONE], inputs="is_prime(3)\nis_prime(4)")
    events = await rig.run(verify_settings={"candidates": 3, "repair": False, "retries": 0, "mutations": 0})
    # 2/3 each: the two that agree on the inputs beat the greedy one.
    assert rig.kinds() == ["code"] * 3 + ["inputs"]
    [done] = of(events, VerificationFinished)
    assert done.winner == 1 and "2 of 3 candidates agree with it on 2 inputs" in done.reason


@pytest.mark.slow
async def test_opt_in_nothing_runs_without_verify(make_rig):
    rig = make_rig(answers=[ODD])
    events = await rig.run(chain="default")
    assert not of(events, ChecksFound) and not of(events, VerificationFinished)
    assert rig.sandbox.runs == 0
    assert await rig.ledger.call_fn(verification_of, events[0].run_id) is None
    # `verified` with verify off by the caller: one plain step.
    rig2 = make_rig(answers=[ODD])
    events = await rig2.run(verify=False)
    assert rig2.kinds() == ["code"] and not of(events, CandidateChecked) and rig2.sandbox.runs == 0
    # --verify on `default` (one role writing text): that role's answer is verified.
    rig3 = make_rig(answers=[RIGHT])
    events = await rig3.run(chain="default", verify=True, verify_settings={"confirm": 0})
    assert of(events, VerificationFinished)[0].verified and rig3.sandbox.runs == 1


@pytest.mark.slow
async def test_verify_on_a_chain_with_a_reviewer_shows_it_the_results(make_rig):
    rig = make_rig(answers=["1. check divisors", RIGHT])
    events = await rig.run(
        chain="code", verify=True, examples=("is_prime(4) -> False",), verify_settings={"confirm": 0}
    )
    # planner, executor (verified: passes), reviewer asks for changes but nothing is sent back.
    assert [e.role for e in of(events, StepStarted)] == ["planner", "executor", "reviewer"]
    assert any("it is kept" in e.text for e in of(events, Notice))
    review_prompt = rig.coder.prompts[-1]
    assert "The code was run against the task's checks:\nverified: 1 given + 3 extracted" in review_prompt
    assert "✓ is_prime(4) is False" in review_prompt
    [found] = of(events, ChecksFound)
    assert [c["source"] for c in found.checks] == ["given", "extracted", "extracted", "extracted"]


@pytest.mark.slow
async def test_ledger_record_and_json(make_rig):
    rig = make_rig(answers=[ODD, RIGHT])
    events = await rig.run(
        tests="def test_two():\n    assert is_prime(2)\n",
        confinement_notice=True,
        verify_settings={"confirm": 0},
    )
    run_id = events[0].run_id
    assert any(e.text.startswith("Verification runs the generated Python") for e in of(events, Notice))
    await rig.ledger.flush()
    record = await rig.ledger.call_fn(verification_of, run_id)
    assert record["verified"] and record["status"] == "verified: 1 given + 3 extracted checks passed"
    assert [c["source"] for c in record["checks"]] == ["given", "extracted", "extracted", "extracted"]
    assert len(record["candidates"]) == 2 and all(len(c["code_hash"]) == 16 for c in record["candidates"])
    assert record["candidates"][0]["results"][0]["seconds"] >= 0 and record["tier"]
    assert record["limits"]["memory_bytes"] > 0 and "PATH" not in json.dumps(record)
    run = await rig.ledger.run(run_id)
    answers = [s["answer"] for s in run["steps"]]
    assert answers == [0, 1]  # only the winner's step carries the run's rating
    from jarvis.app.export import run_as_json, run_as_markdown

    run["verification"] = record
    doc = run_as_json(run)
    assert doc["verification"]["status"] == record["status"]
    assert "verified: 1 given + 3 extracted checks passed" in run_as_markdown(run)
    assert await rig.ledger.call_fn(lambda led: led.delete_run(run_id))
    assert await rig.ledger.call_fn(verification_of, run_id) is None  # deleted with its run


@pytest.mark.slow
async def test_bad_tests_fail_the_run_in_one_sentence(make_rig):
    rig = make_rig(answers=[RIGHT])
    events = await rig.run(tests="def (:")
    assert isinstance(events[-1], RunFailed) and events[-1].kind == "usage"
    assert events[-1].message.startswith("Cannot verify: the tests are not valid Python")
    events = await rig.run(verify_settings={"candidates": 99})
    assert isinstance(events[-1], RunFailed) and "candidates" in events[-1].message


# -- the CLI ---------------------------------------------------------------------------------------
@pytest.fixture
def home(isolated_home):
    write_config(isolated_home, "[ollama]\nenabled = false\n[lmstudio]\nenabled = false\n")
    return isolated_home


@pytest.mark.slow  # the jarvis command in a subprocess
def test_cli_bad_example_is_one_sentence(home):
    out = jarvis("run", "write f(x)", "--verify", "--example", "seven", home=home)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "--example" in out.stderr
    out = jarvis("run", "write f(x)", "--verify", "--retries", "20", home=home)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "--retries 0 to 12" in out.stderr


def test_cli_flags_become_verify_settings():
    from argparse import Namespace

    from jarvis.app.run_commands import verify_options

    args = Namespace(tests=None, example=[], verify=False, candidates=None, repair_rounds=0, retries=2)
    got = verify_options("write is_prime(n); is_prime(7) is True", args)
    assert got["verify"] is True and got["verify_settings"] == {"repair_rounds": 0, "retries": 2}


@pytest.mark.slow
def test_cli_verify_example_with_smollm2(home):
    """Plumbing with the real SmolLM2: it cannot be relied on to write correct code; the shape."""
    out = jarvis(
        "run",
        "Write is_prime(n) in Python.",
        "--verify",
        "--example",
        "is_prime(7) is True",
        "-m",
        "embedded/smollm2-135m",
        "--max-tokens",
        "80",
        "--json",
        home=home,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    v = doc["verification"]
    assert v["status"].startswith(("verified", "unverified")) and v["checks"][0]["source"] == "given"
    assert v["checks"][0]["display"] == "is_prime(7) is True" and v["model_calls"] >= 1
    assert "Verification runs the generated Python" in out.stderr  # the one-time notice, first run
    again = jarvis(
        "run",
        "Write is_prime(n).",
        "--verify",
        "-m",
        "embedded/smollm2-135m",
        "--max-tokens",
        "40",
        "--json",
        home=home,
        timeout=600,
    )
    assert "Verification runs the generated Python" not in again.stderr


@pytest.mark.slow
async def test_cli_export_writes_code_and_checks_that_pytest_runs(home, tmp_path):
    import subprocess
    import sys

    rig = Rig(tmp_path, ScriptedCoder("script", [RIGHT]), db=home / "jarvis.db")  # the CLI's ledger
    try:
        events = await rig.run(examples=("is_prime(2) is True",))
        await rig.ledger.flush()
    finally:
        rig.ledger.close()
    run_id = events[0].run_id
    out = jarvis("export", run_id, "--format", "json", home=home)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["verification"]["verified"] is True
    folder = tmp_path / "exported"
    out = jarvis("export", run_id, "--tests-dir", str(folder), home=home)
    assert out.returncode == 0, out.stderr
    assert (folder / "solution.py").read_text().startswith("def is_prime")
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=120,
    )
    assert "4 passed" in tests.stdout, tests.stdout + tests.stderr
    out = jarvis("export", "run_nope", "--tests-dir", str(folder), home=home)
    assert out.returncode == 2
