"""TaskAnalyzer against labeled prompts, and its model-assisted mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jarvis.chains.analyzer import TASK_TYPES, TaskAnalyzer
from jarvis.providers.embedded import DEFAULT_MODEL_NAME, EmbeddedProvider
from jarvis.providers.types import GenerationOptions, Message

DATA = Path(__file__).resolve().parent.parent / "data"


def load(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


def accuracy(rows: list[dict], key: str) -> tuple[float, list]:
    analyzer = TaskAnalyzer()
    misses = [
        (r["text"][:60], r[key], getattr(analyzer.analyze(r["text"]), key))
        for r in rows
        if getattr(analyzer.analyze(r["text"]), key) != r[key]
    ]
    return 1 - len(misses) / len(rows), misses


def test_labeled_set_is_large_and_covers_every_type():
    rows = load("task_prompts.jsonl")
    assert len(rows) >= 80
    assert {r["task_type"] for r in rows} == set(TASK_TYPES)


def test_task_type_accuracy_at_least_90_percent():
    score, misses = accuracy(load("task_prompts.jsonl"), "task_type")
    assert score >= 0.90, misses


def test_held_out_prompts_the_rules_were_not_tuned_on():
    score, misses = accuracy(load("task_prompts_holdout.jsonl"), "task_type")
    assert score >= 0.80, misses


def test_language_detection():
    score, misses = accuracy(load("task_prompts.jsonl"), "language")
    assert score >= 0.90, misses


def test_capabilities_and_size():
    a = TaskAnalyzer().analyze("Plan the migration of our Django monolith to services.")
    assert a.task_type == "planning" and "planning" in a.capabilities and a.language == "python"
    long = TaskAnalyzer().analyze("Review this:\n```python\n" + "x = 1\n" * 4000 + "```")
    assert "long_context" in long.capabilities and long.est_tokens > 6000
    assert long.reasons and 0 < long.confidence <= 1


def test_context_contributes_language_and_tokens():
    a = TaskAnalyzer().analyze(
        "Fix the failing test.", context=["def test_x():\n    assert f() == 2  # x.py"]
    )
    bare = TaskAnalyzer().analyze("Fix the failing test.")
    assert a.language == "python" and a.est_tokens > bare.est_tokens


async def test_model_assisted_mode_falls_back_to_rules():
    analyzer = TaskAnalyzer()

    async def nonsense(prompt: str) -> str:
        return "banana"

    async def broken(prompt: str) -> str:
        raise RuntimeError("model down")

    async def agrees(prompt: str) -> str:
        return "code_generation"

    text = "Write a Python function that reverses a string."
    assert (await analyzer.analyze_with_model(text, nonsense)).method == "rules"
    assert (await analyzer.analyze_with_model(text, broken)).task_type == "code_generation"
    agreed = await analyzer.analyze_with_model(text, agrees)
    assert agreed.method == "model+rules" and agreed.confidence >= 0.9


async def test_model_assisted_mode_with_the_real_embedded_model():
    provider = EmbeddedProvider()

    async def ask(prompt: str) -> str:
        out = []
        async for chunk in provider.stream_chat(
            DEFAULT_MODEL_NAME, [Message("user", prompt)], GenerationOptions(max_tokens=8, temperature=0)
        ):
            out.append(getattr(chunk, "text", ""))
        return "".join(out[:-1])

    result = await TaskAnalyzer().analyze_with_model("Write a haiku about the sea.", ask)
    assert result.task_type in TASK_TYPES and result.method in ("rules", "model", "model+rules")
    await provider.close()


@pytest.mark.parametrize("text", ["", "   ", "?"])
def test_degenerate_input_is_chat(text):
    a = TaskAnalyzer().analyze(text)
    assert a.task_type == "chat" and a.confidence < 0.5
