"""SelectionEngine: hard filters, strategies, exploration, fallbacks, policies, explicit models."""

from __future__ import annotations

import random
import re
from dataclasses import replace

import pytest

from jarvis.chains.policies import Policy
from jarvis.chains.selection import (
    HARD_CAPABILITIES,
    Ask,
    Candidate,
    ModelStats,
    NoModelAvailable,
    Request,
    SelectionEngine,
    rejection,
)
from jarvis.providers.registry import ModelEntry
from jarvis.providers.types import ModelInfo


def entry(
    mid: str,
    *,
    ctx=8192,
    caps=("chat", "completion"),
    status="available",
    fits=True,
    kind=None,
    cost=(0.0, 0.0),
) -> ModelEntry:
    provider, name = mid.split("/", 1)
    info = ModelInfo(provider=provider, name=name, context_length=ctx, capabilities=frozenset(caps))
    return ModelEntry(
        info,
        kind or provider,
        status,
        frozenset(caps),
        ctx,
        fits,
        0,
        "",
        cost_in_per_1k=cost[0],
        cost_out_per_1k=cost[1],
    )


def engine(models, **kw) -> SelectionEngine:
    return SelectionEngine(lambda: models, **kw)


def test_hard_filters_each_say_why():
    models = [
        entry("a/small", ctx=1024),
        entry("b/old", status="deprecated"),
        entry("c/big", fits=False),
        entry("cloud/gpt", kind="cloud"),
        entry("d/embed", caps=("embeddings",)),
        entry("e/ok"),
    ]
    sel = engine(models).select(Request("chat", prompt_tokens=900, max_tokens=300))
    assert sel.model.id == "e/ok" and sel.fallbacks == []
    with pytest.raises(NoModelAvailable) as err:
        engine(models[:5]).select(Request("chat", prompt_tokens=900, max_tokens=300))
    text = str(err.value)
    for why in (
        "context 1024 < 1200",
        "deprecated",
        "does not fit in memory",
        "cloud disabled",
        "not a chat model",
    ):
        assert why in text


def test_cloud_only_when_allowed_and_cooling_models_skipped():
    models = [entry("cloud/gpt", kind="cloud", cost=(0.001, 0.002)), entry("local/x")]
    assert [m.id for m in [engine(models).select(Request("chat")).model]] == ["local/x"]
    with_cloud = engine(models, allow_cloud=lambda: True).select(Request("chat"))
    assert with_cloud.model.id == "local/x" and [f.id for f in with_cloud.fallbacks] == ["cloud/gpt"]
    local_cooling = engine(models, allow_cloud=lambda: True, cooling=lambda mid: mid == "local/x")
    assert local_cooling.select(Request("chat")).model.id == "cloud/gpt"
    with pytest.raises(NoModelAvailable, match="local/x: cooling down"):
        engine(models, cooling=lambda mid: mid == "local/x").select(Request("chat"))


def test_strategies_follow_their_metric():
    models = [
        entry("a/fast"),
        entry("b/good"),
        entry("c/cheap"),
        entry("cloud/pricey", kind="cloud", cost=(0.01, 0.03)),
    ]
    stats = {
        "a/fast": ModelStats(requests=50, successes=40, tokens_per_s_p50=150, ttft_p50=0.05),
        "b/good": ModelStats(
            requests=50, successes=50, tokens_per_s_p50=10, ttft_p50=1.0, rating_mean=4.8, ratings=30
        ),
        "c/cheap": ModelStats(
            requests=50, successes=45, tokens_per_s_p50=40, ttft_p50=0.3, rating_mean=2.0, ratings=30
        ),
        "cloud/pricey": ModelStats(
            requests=50, successes=50, tokens_per_s_p50=80, ttft_p50=0.2, rating_mean=4.0, ratings=30
        ),
    }
    eng = engine(models, allow_cloud=lambda: True, exploration=0.0)
    pick = {
        s: eng.select(Request("code_generation", strategy=s), stats).model.id
        for s in ("performance", "quality", "reliability", "cost")
    }
    assert pick["performance"] == "a/fast"
    assert pick["quality"] == "b/good"
    assert pick["reliability"] == "b/good"
    assert pick["cost"] != "cloud/pricey"
    sel = eng.select(Request("code_generation", strategy="quality", max_tokens=100), stats)
    assert "quality" in sel.reason and "30 ratings" in sel.reason
    assert sel.est_latency_s == pytest.approx(1.0 + 100 / 10)


def test_exploration_bonus_is_bounded():
    models = [entry("a/known"), entry("b/new")]
    stats = {"a/known": ModelStats(requests=200, successes=200, rating_mean=4.9, ratings=100)}
    sel = engine(models).select(Request("chat", strategy="quality"), stats)
    assert sel.model.id == "a/known", "a newcomer gets a bonus, not a free pass"
    assert sel.fallbacks[0].id == "b/new"
    fresh = engine(models).select(
        Request("chat", strategy="quality"), {"a/known": ModelStats(requests=200, successes=200)}
    )
    assert fresh.parts["explore"] > 0


def test_fallbacks_prefer_other_providers():
    models = [entry("ollama/a"), entry("ollama/b"), entry("lmstudio/c"), entry("embedded/d")]
    stats = {
        "ollama/a": ModelStats(rating_mean=5, ratings=50),
        "ollama/b": ModelStats(rating_mean=4.9, ratings=50),
    }
    sel = engine(models, exploration=0).select(Request("chat", strategy="quality"), stats)
    assert sel.model.id == "ollama/a"
    assert [f.provider for f in sel.fallbacks[:2]] != ["ollama", "ollama"]
    assert sel.fallbacks[-1].id == "ollama/b"


def test_explicit_model_wins_or_gets_a_reason():
    models = [entry("a/x"), entry("b/tiny", ctx=512)]
    assert engine(models).select(Request("chat", explicit="b/tiny", max_tokens=100)).model.id == "b/tiny"
    with pytest.raises(NoModelAvailable, match="b/tiny cannot be used: context 512"):
        engine(models).select(Request("chat", explicit="b/tiny", prompt_tokens=600))
    with pytest.raises(NoModelAvailable, match="not a known model"):
        engine(models).select(Request("chat", explicit="z/none"))


def test_policies_route_by_task_language_and_role():
    models = [
        entry("ollama/coder", caps=("chat", "code")),
        entry("embedded/small"),
        entry("lmstudio/general"),
    ]
    policies = [
        Policy(
            name="py",
            task_type=["code_generation"],
            language=["python"],
            prefer=["ollama/coder"],
            fallbacks=["lmstudio/general"],
            priority=5,
        ),
        Policy(name="review", role=["reviewer"], prefer=["embedded/small"], strategy="performance"),
    ]
    eng = engine(models, policies=policies)
    sel = eng.select(Request("code_generation", language="python", role="executor"))
    assert sel.model.id == "ollama/coder" and "routing policy 'py'" in sel.reason
    assert sel.fallbacks[0].id == "lmstudio/general"
    rev = eng.select(Request("code_review", role="reviewer"))
    assert rev.model.id == "embedded/small" and rev.strategy == "performance"
    other = eng.select(Request("code_generation", language="rust", role="executor"))
    assert "policy" not in other.reason
    down = engine([entry("embedded/small")], policies=policies[:1]).select(
        Request("code_generation", language="python")
    )
    assert "policy 'py' prefers ollama/coder: not a known model" in down.reason


def test_five_hundred_models_select_correctly():
    models = [entry(f"p{i % 7}/m{i}", ctx=2048 if i % 3 else 32768) for i in range(500)]
    stats = {
        f"p{i % 7}/m{i}": ModelStats(requests=10, successes=i % 10, tokens_per_s_p50=float(i))
        for i in range(500)
    }
    req = Request("chat", prompt_tokens=3000, strategy="reliability")
    sel = engine(models, exploration=0).select(req, stats)
    assert sel.model.context_length == 32768 and stats[sel.model.id].successes == 9
    assert len(sel.fallbacks) == 3


def test_the_candidate_cache_follows_the_registry_generation():
    """The old cache was keyed on the list's length and the id() of its first and last items, so a model
    replaced in the middle went unnoticed; the registry's generation counter notices every change."""
    models = [entry("a/first"), entry("b/middle"), entry("c/last")]
    generation = [0]
    eng = engine(models, generation=lambda: generation[0])
    assert eng.select(Request("chat", explicit="b/middle")).model.id == "b/middle"
    models[1] = entry("b/middle", status="unavailable")
    generation[0] += 1
    with pytest.raises(NoModelAvailable, match="b/middle cannot be used: unavailable"):
        eng.select(Request("chat", explicit="b/middle"))
    models[1] = entry("b/middle")
    generation[0] += 1
    assert eng.select(Request("chat", explicit="b/middle")).model.id == "b/middle"


def test_the_fast_path_and_the_explanation_are_the_same_filters():
    """A model passes the fast path exactly when the explaining path finds no reason, and a refusal
    names that reason."""
    rng = random.Random(7)
    models = [
        entry(
            f"p{i % 4}/m{i}",
            ctx=rng.choice([None, 1024, 4096, 32768]),
            caps=rng.choice([("chat",), ("chat", "vision"), ("embeddings",), ("chat", "code")]),
            status=rng.choice(["available"] * 4 + ["deprecated", "unavailable"]),
            fits=rng.choice([True, None, False]),
            kind="cloud" if i % 5 == 0 else None,
        )
        for i in range(120)
    ]
    cooling = {f"p1/m{i}" for i in range(0, 120, 3)}
    requests = (
        Request("chat", prompt_tokens=2000),
        Request("chat", capabilities=("vision",)),
        Request("chat", exclude=frozenset({"p2/m2", "p3/m7"}), min_context=4096),
    )
    reasons = set()
    for cloud_ok in (False, True):
        eng = engine(
            models, allow_cloud=(lambda: True) if cloud_ok else (lambda: False), cooling=cooling.__contains__
        )
        for req in requests:
            ask = Ask(
                max(req.prompt_tokens + req.max_tokens, req.min_context),
                HARD_CAPABILITIES.intersection(req.capabilities),
                req.exclude,
                cloud_ok,
                cooling.__contains__,
            )
            for m in models:
                why = rejection(Candidate(m), ask)
                pinned = replace(req, explicit=m.id)
                if why is None:
                    assert eng.select(pinned).model.id == m.id
                else:
                    reasons.add(why.split(" ")[0])
                    with pytest.raises(NoModelAvailable, match=re.escape(f"{m.id} cannot be used: {why}.")):
                        eng.select(pinned)
    every_filter = {
        "already",
        "deprecated",
        "unavailable",
        "not",
        "lacks",
        "context",
        "does",
        "cloud",
        "cooling",
    }
    assert every_filter <= reasons
