"""Roles say what they produce: a chain with its own role names runs exactly like the shipped code chain."""

from __future__ import annotations

from importlib import resources

import pytest

from jarvis.chains.events import Notice, StepStarted
from jarvis.chains.feedback import rate
from jarvis.chains.run_options import RunOptions
from jarvis.chains.specs import parse_chain
from tests.chains.conftest import finished
from tests.chains.scripted import FIXED, ScriptedCoder

RENAMES = {
    'name = "planner"': 'name = "architect"',
    'name = "executor"': 'name = "coder"',
    'name = "reviewer"': 'name = "critic"',
    'name = "code"': 'name = "mine"',
}


def shipped_code_chain() -> str:
    return resources.files("jarvis.assets").joinpath("chains/code.toml").read_text(encoding="utf-8")


def renamed(text: str, *, say_what_they_produce: bool) -> str:
    for old, new in RENAMES.items():
        text = text.replace(old, new)
    dropped = ("description", "produces") if not say_what_they_produce else ("description",)
    # (without `produces`: a chain written before roles said what they produce)
    text = "\n".join(line for line in text.splitlines() if not line.startswith(dropped))
    assert "planner" not in text and "executor" not in text and "reviewer" not in text
    return text


async def run_chain(make_rig, tmp_path, chain: str, user_chain: str | None):
    folder = tmp_path / "chains"
    folder.mkdir(exist_ok=True)
    if user_chain:
        (folder / "mine.toml").write_text(user_chain, encoding="utf-8")
    provider = ScriptedCoder()
    rig = await make_rig([provider], user_chains=folder)
    events = await rig.events(
        rig.orchestrator.run("Write a Python function that reverses a string.", RunOptions(chain=chain))
    )
    await rig.ledger.flush()
    return rig, provider, events


@pytest.mark.parametrize("say_what_they_produce", [True, False], ids=["produces", "inferred"])
async def test_renamed_roles_run_like_the_shipped_code_chain(make_rig, tmp_path, say_what_they_produce):
    _, shipped, shipped_events = await run_chain(make_rig, tmp_path, "code", None)
    user_chain = renamed(shipped_code_chain(), say_what_they_produce=say_what_they_produce)
    rig, mine, events = await run_chain(make_rig, tmp_path, "mine", user_chain)
    # The same prompts, filled the same way ({plan}, {code}, {issues}), in the same order: one revise round.
    assert mine.prompts == shipped.prompts and len(mine.prompts) == 5
    assert "Plan:\n1. Reverse with a slice." in mine.prompts[1][1]
    revise = mine.prompts[3][1]
    assert "Your previous code:\n```python" in revise and "- Add a docstring." in revise
    roles = [e.role for e in events if isinstance(e, StepStarted)]
    assert roles == ["architect", "coder", "critic", "coder", "critic"]
    assert [e.role for e in shipped_events if isinstance(e, StepStarted)] == [
        "planner",
        "executor",
        "reviewer",
        "executor",
        "reviewer",
    ]
    assert any(isinstance(e, Notice) and "Round 1" in e.text for e in events)
    # The answer is the coder's revised code, reviewed and approved, as with the shipped chain.
    done, shipped_done = finished(events), finished(shipped_events)
    assert done.result.answer == shipped_done.result.answer == FIXED
    assert done.result.verdict is not None and done.result.verdict.decision == "approve"
    # A rating of the run goes to the model that wrote the answer, found without a role name.
    rating = await rig.ledger.call_fn(rate, done.run_id, 5)
    assert rating["role"] == "coder" and rating["model_id"] == "script/coder-7b"


def test_a_role_may_say_it_reviews_without_kind():
    spec = parse_chain(
        'name = "x"\n[[roles]]\nname = "a"\nprompt = "{task}"\n'
        '[[roles]]\nname = "b"\nproduces = "review"\nprompt = "{code}"\n',
        "x.toml",
    )
    assert spec.reviewer is not None and spec.reviewer.name == "b" and spec.reviewer.kind == "review"
    assert [r.produces for r in spec.roles] == ["code", "review"] and spec.answer_role.name == "a"


def test_roles_of_chains_without_a_reviewer_produce_text_and_the_last_answers():
    spec = parse_chain('name = "x"\n[[roles]]\nname = "a"\n[[roles]]\nname = "b"\nprompt = "{a}"\n', "x.toml")
    assert [r.produces for r in spec.roles] == ["text", "text"] and spec.answer_role.name == "b"
