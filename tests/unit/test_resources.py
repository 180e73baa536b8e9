"""Resource guard arithmetic and sentences, with the machine's free memory pinned."""

from __future__ import annotations

import pytest

from jarvis.providers import gguf
from jarvis.providers.errors import ContextOverflow, OutOfMemory
from jarvis.providers.resources import (
    IN_PROCESS_BASELINE,
    REPACKED_AVX2,
    GiB,
    MiB,
    ResourceGuard,
    compute_bytes,
    cpu_repacked_types,
    kv_cache_bytes,
    weight_layout,
)
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


# -- the estimate against llama.cpp's real allocations ---------------------------------------
# Measured with bench/memory_fit.py (peak RSS of `jarvis run`, short prompt, this tree's x86 box).
SMOL_MEASURED_MIB = {2048: 241, 4096: 286, 8192: 376}
#: The same with a prompt filling ~85 % of the window (bench/memory_fit.py --full-window).
SMOL_FULL_WINDOW_MIB = {2048: 290, 4096: 378, 8192: 570}


def smol_info(model_path) -> ModelInfo:
    meta = gguf.read_metadata(model_path)
    return ModelInfo(
        "embedded",
        "smollm2-135m",
        size_bytes=model_path.stat().st_size,
        geometry=gguf.geometry(meta),
        path=str(model_path),
    )


def test_smollm2_estimate_holds_against_the_measured_peak(model_path):
    guard = ResourceGuard(repacked_types=lambda: REPACKED_AVX2)
    info = smol_info(model_path)
    for n_ctx, measured in SMOL_MEASURED_MIB.items():
        est = guard.estimate(info, n_ctx, tokens=300)
        assert measured * MiB <= est.total <= measured * MiB * 1.15, n_ctx
        # Admission assumes the window gets filled, which touches more of the compute buffer.
        worst = guard.estimate(info, n_ctx).total
        assert SMOL_FULL_WINDOW_MIB[n_ctx] * MiB <= worst <= SMOL_FULL_WINDOW_MIB[n_ctx] * MiB * 1.15, n_ctx


def test_the_terms_are_the_ones_llama_cpp_logs(model_path):
    est = ResourceGuard(repacked_types=lambda: REPACKED_AVX2).estimate(smol_info(model_path), 2048)
    assert est.kv_cache == 45 * MiB  # "llama_kv_cache: size = 45.00 MiB"
    assert 92 * MiB < est.weights < 92.2 * MiB  # "CPU_Mapped model buffer size = 92.10 MiB"
    assert est.repacked == 0  # Q4_1 and Q8_0 are not repacked on x86
    assert est.runtime == IN_PROCESS_BASELINE and not est.rough


def test_repacked_weights_count_twice_but_never_the_token_embedding(model_path):
    q4_1 = 3
    mapped, repacked = weight_layout(model_path, frozenset({q4_1}))
    # Every 2-D Q4_1 weight is copied (63.28 MiB); the Q8_0 token embedding (28.69 MiB) is not.
    assert 63 * MiB < repacked < 63.5 * MiB
    assert mapped == weight_layout(model_path, frozenset())[0]
    with_copy = ResourceGuard(repacked_types=lambda: frozenset({q4_1, 8})).estimate(
        smol_info(model_path), 2048
    )
    assert with_copy.repacked == repacked  # Q8_0 is in the set, but the embedding stays single


def test_estimate_grows_with_the_window_and_with_the_tokens_used(model_path):
    guard = ResourceGuard(repacked_types=frozenset)
    info = smol_info(model_path)
    totals = [guard.estimate(info, n).total for n in (512, 1024, 2048, 4096, 8192)]
    assert totals == sorted(totals) and len(set(totals)) == len(totals)
    used = [guard.estimate(info, 8192, tokens=t).total for t in (100, 1000, 4000, 8192)]
    assert used == sorted(used) and used[-1] == guard.estimate(info, 8192).total


def test_compute_term_is_attention_over_the_window_for_a_full_batch():
    qwen = {
        "embedding_length": 1536,
        "attention.head_count": 12,
        "feed_forward_length": 8960,
        "vocab_size": 151936,
    }
    # 8192 cells x 512 batch tokens x (12 heads + mask) x f32, the scores again as f16 in the CPU
    # backend's work buffer, activations and one row of logits.
    scores = 8192 * 512 * 13 * 4 + 8192 * 512 * 12 * 2
    expected = scores + (2 * 8960 + 3 * 1536) * 512 * 4 + 151936 * 4
    assert compute_bytes(qwen, 8192) == expected
    assert compute_bytes(qwen, 8192, tokens=100) < 40 * MiB


def test_repacked_types_follow_the_cpu():
    assert cpu_repacked_types("x86_64", "flags : fpu sse2 avx avx2 fma") == REPACKED_AVX2
    assert 10 in cpu_repacked_types("x86_64", "flags : avx2 avx512f")  # Q2_K needs AVX-512
    assert cpu_repacked_types("x86_64", "flags : sse2") == frozenset()
    assert 14 in cpu_repacked_types("aarch64")  # Q6_K is repacked on ARM only
