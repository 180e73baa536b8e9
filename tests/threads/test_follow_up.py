"""Continue, regenerate and fork against the Ollama test server: what the follow-up's model receives."""

from __future__ import annotations

import json

import pytest

from jarvis.chains import threads
from jarvis.chains.events import Notice

from .conftest import MODEL, chat_messages, finished, options

pytestmark = pytest.mark.slow


async def test_continue_sends_the_task_and_the_previous_answer_as_a_conversation(ollama_rig):
    rig, proxy = ollama_rig
    first = finished(await rig.events(rig.orchestrator.run("Write a Python function add(a, b).", options())))
    answer = first.result.answer
    assert answer
    follow_up = await threads.continue_run(rig.ledger, first.run_id)
    assert (follow_up.parent_run_id, follow_up.thread_id, follow_up.turn) == (first.run_id, first.run_id, 2)
    proxy.bodies.clear()
    second = finished(
        await rig.events(rig.orchestrator.run("Now handle the empty list.", options(follow_up=follow_up)))
    )
    [body] = [b for b in proxy.bodies if b"messages" in b]
    roles = [(m["role"], m["content"]) for m in chat_messages(body)]
    assert roles[0][0] == "system"
    assert roles[1:] == [
        ("user", "Write a Python function add(a, b)."),
        ("assistant", answer),
        ("user", "Now handle the empty list."),
    ]
    turns = await rig.ledger.thread_turns(first.run_id)
    assert [(t.run_id, t.turn, t.parent_run_id) for t in turns] == [
        (first.run_id, 1, None),
        (second.run_id, 2, first.run_id),
    ]
    # The latest chain run is what `--continue` without an id continues.
    latest = await threads.continue_run(rig.ledger, None)
    assert latest.parent_run_id == second.run_id and latest.turn == 3
    assert [t.answer for t in latest.turns] == [answer, second.result.answer]


async def test_regenerate_keeps_the_original_and_fork_leaves_the_thread_intact(ollama_rig):
    rig, proxy = ollama_rig
    first = finished(await rig.events(rig.orchestrator.run("Write a function is_even(n).", options())))
    cont = await threads.continue_run(rig.ledger, first.run_id)
    second = finished(await rig.events(rig.orchestrator.run("Add a docstring.", options(follow_up=cont))))

    original, again = await threads.regenerate_run(rig.ledger, second.run_id)
    assert original.task == "Add a docstring." and again.turn == 2 and again.parent_run_id == first.run_id
    proxy.bodies.clear()
    regen = finished(await rig.events(rig.orchestrator.run(original.task, options(follow_up=again))))
    [body] = [b for b in proxy.bodies if b"messages" in b]
    assert [m["role"] for m in chat_messages(body)] == ["system", "user", "assistant", "user"]
    turns = await rig.ledger.thread_turns(first.run_id)
    assert [(t.run_id, t.turn) for t in turns] == [(first.run_id, 1), (second.run_id, 2), (regen.run_id, 2)]
    kept = await rig.ledger.run(second.run_id)
    assert kept["status"] == "completed" and json.loads(kept["result_json"])["answer"] == second.result.answer

    forked = await threads.fork_run(rig.ledger, first.run_id)
    assert forked.thread_id is None and forked.turn == 2
    fork = finished(
        await rig.events(rig.orchestrator.run("Use a lambda instead.", options(follow_up=forked)))
    )
    assert [t.run_id for t in await rig.ledger.thread_turns(first.run_id)] == [
        first.run_id,
        second.run_id,
        regen.run_id,
    ]
    assert [t.run_id for t in await rig.ledger.lineage(fork.run_id)] == [first.run_id, fork.run_id]
    own = await rig.ledger.thread_turn(fork.run_id)
    assert own.thread_id == fork.run_id and own.forked and own.turn == 2


async def test_a_changed_or_vanished_file_is_said_before_the_follow_up(ollama_rig, tmp_path):
    rig, _ = ollama_rig
    kept, gone = tmp_path / "kept.py", tmp_path / "gone.py"
    kept.write_text("x = 1\n")
    gone.write_text("y = 2\n")
    first = finished(await rig.events(rig.orchestrator.run("Explain x.", options())))
    await rig.ledger.call_fn(_attach, first.run_id, tmp_path, [kept, gone])
    kept.write_text("x = 2\n")
    gone.unlink()
    follow_up = await threads.continue_run(rig.ledger, first.run_id)
    assert follow_up.file_paths == [kept]
    events = await rig.events(rig.orchestrator.run("And y?", options(follow_up=follow_up)))
    said = [e.text for e in events if isinstance(e, Notice)]
    assert any("Changed since turn 1: kept.py" in t for t in said), said
    assert any("Gone since turn 1: gone.py" in t and "without it" in t for t in said), said


def _attach(ledger, run_id, root, files) -> None:
    """As chains.context stores a run's files: paths and hashes, not their text."""
    import hashlib

    from jarvis.chains.context.attachment import Attachment

    rows = [
        Attachment(p.name, p, hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size, 3, p.read_text())
        for p in files
    ]
    ledger.add_run_files(run_id, str(root), rows)


async def test_on_a_small_window_the_earlier_turns_are_cut_visibly_before_sending(ollama_rig):
    from jarvis.providers.registry import CustomModel

    rig, proxy = ollama_rig
    # The same model, told it has a 1,024-token window (as a user registering it would).
    rig.registry.custom = {MODEL: CustomModel(MODEL, context_length=1024)}
    await rig.registry.refresh()
    first = finished(await rig.events(rig.orchestrator.run("Explain recursion.", options())))
    long_answer = "def walk(node):\n    return [walk(c) for c in node.children]\n" * 120
    await rig.ledger.call_fn(_replace_answer, first.run_id, long_answer)
    follow_up = await threads.continue_run(rig.ledger, first.run_id)
    proxy.bodies.clear()
    events = await rig.events(rig.orchestrator.run("Shorter, please.", options(follow_up=follow_up)))
    finished(events)
    said = [e.text for e in events if isinstance(e, Notice)]
    assert any(t.startswith("Trimmed the earlier turns") and "1024-token window" in t for t in said), said
    [body] = [b for b in proxy.bodies if b"messages" in b]
    sent = chat_messages(body)
    answer = next(m["content"] for m in sent if m["role"] == "assistant")
    assert "earlier characters left out" in answer and len(answer) < len(long_answer)
    assert answer.startswith("def walk(node):") and sent[-1]["content"] == "Shorter, please."
    assert sent[1]["content"] == "Explain recursion."  # the first task is kept whole


def _replace_answer(ledger, run_id: str, answer: str) -> None:
    """A first turn with a long answer, as a model that talked at length would have left it."""
    ledger.finish_run(run_id, "completed", result={"answer": answer})
