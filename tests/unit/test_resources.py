"""Resource guard arithmetic and sentences, with the machine's free memory pinned."""

from __future__ import annotations

import pytest

from jarvis.providers.errors import ContextOverflow, OutOfMemory
from jarvis.providers.resources import GiB, MiB, ResourceGuard, kv_cache_bytes
from jarvis.providers.types import ModelInfo

SMOL = {"block_count": 30, "embedding_length": 576, "attention.head_count": 9, "attention.head_count_kv": 3}


def model(**kw) -> ModelInfo:
    base = dict(
        provider="ollama",
        name="m",
        size_bytes=4 * GiB,
        context_length=32768,
        geometry={
            "block_count": 32,
            "embedding_length": 4096,
            "attention.head_count": 32,
            "attention.head_count_kv": 8,
        },
    )
    base.update(kw)
    return ModelInfo(**base)


def test_kv_cache_matches_llama_cpp_log_for_smollm2():
    # llama.cpp prints 45.00 MiB for SmolLM2-135M at n_ctx 2048.
    assert kv_cache_bytes(SMOL, 2048) == 45 * MiB


def test_estimate_adds_weights_kv_compute_and_margin():
    guard = ResourceGuard(available=lambda: 64 * GiB)
    est = guard.estimate(model(), 8192)
    assert est.kv_cache == 8192 * 32 * 8 * 256 * 2  # 1 GiB for a Llama-3-8B shape at 8k
    assert est.total > est.weights + est.kv_cache + est.compute
    assert not est.rough


def test_unknown_geometry_is_marked_rough():
    est = ResourceGuard().estimate(model(geometry={}), 4096)
    assert est.rough and est.kv_cache > 0


def test_refusal_names_the_numbers_and_suggests_smaller_context():
    guard = ResourceGuard(available=lambda: 6 * GiB, reserve_bytes=1 * GiB)
    admission = guard.check_memory(model(), 32768)
    assert admission.fits is False
    assert "needs about" in admission.sentence and "5.0 GiB is free" in admission.sentence
    assert admission.suggested_num_ctx and admission.suggested_num_ctx < 32768
    assert f"num_ctx {admission.suggested_num_ctx}" in admission.sentence
    assert guard.check_memory(model(), admission.suggested_num_ctx).fits is True
    with pytest.raises(OutOfMemory, match="needs about"):
        guard.admit(model(), 32768)


def test_nothing_fits_says_what_to_do():
    guard = ResourceGuard(available=lambda: 2 * GiB, reserve_bytes=0)
    admission = guard.check_memory(model(size_bytes=40 * GiB), 4096)
    assert admission.fits is False and admission.suggested_num_ctx is None
    assert "smaller model" in admission.sentence


def test_remote_and_loaded_models_need_no_local_memory():
    guard = ResourceGuard(available=lambda: 0)
    assert guard.check_memory(model(local=False), 4096).fits is None
    assert guard.check_memory(model(loaded=True), 4096).fits is True


def test_context_check():
    info = model(context_length=4096)
    ResourceGuard.check_context(info, 3000, 1000)
    with pytest.raises(ContextOverflow) as err:
        ResourceGuard.check_context(info, 3500, 1000)
    assert "4500" in str(err.value) and "max_tokens to 596" in str(err.value)
    with pytest.raises(ContextOverflow, match="Shorten the prompt"):
        ResourceGuard.check_context(info, 5000, 10)


def test_parallel_plan():
    guard = ResourceGuard(available=lambda: 12 * GiB, reserve_bytes=0, cores=2)
    a, b = model(name="a"), model(name="b")
    assert guard.plan_parallel([(a, 4096), (b, 4096)]).concurrent
    big = model(name="c", size_bytes=9 * GiB)
    plan = guard.plan_parallel([(a, 4096), (big, 4096)])
    assert not plan.concurrent and "one after another" in plan.reason
    plan = guard.plan_parallel([(a, 4096), (b, 4096)], in_process=[True, True])
    assert not plan.concurrent and "2 CPU cores" in plan.reason
    assert not guard.plan_parallel([(a, 4096), (a, 4096)]).concurrent
