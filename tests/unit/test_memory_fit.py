"""Memory before action: the fit sentence, the unload choice, and the guard-backed check."""

from __future__ import annotations

from jarvis.providers.memory_fit import LoadedModel, check_fit, choose_unloads, fit_sentence
from jarvis.providers.resources import GiB, MiB, ResourceGuard
from jarvis.providers.types import ModelInfo

LLAMA = LoadedModel("ollama/llama3.2:3b", int(2.9 * GiB))
PHI = LoadedModel("ollama/phi3:mini", int(2.4 * GiB))
TINY = LoadedModel("ollama/smollm2:135m", 300 * MiB)


def test_the_issue_example_reads_as_written():
    report = fit_sentence("ollama/qwen2.5-coder:7b", int(5.6 * GiB), int(3.1 * GiB), [TINY, LLAMA])
    assert (
        report.sentence
        == "qwen2.5-coder:7b needs 5.6 GiB; 3.1 GiB free; unloading llama3.2:3b frees 2.9 GiB."
    )
    assert not report.fits and report.fits_after_unload
    assert report.unload == (LLAMA,) and report.frees == LLAMA.size_bytes
    assert report.as_json()["unload"] == ["ollama/llama3.2:3b"]


def test_a_model_that_fits_says_so_with_numbers():
    report = fit_sentence("embedded/smol", 300 * MiB, 4 * GiB, [LLAMA])
    assert report.fits and report.unload == () and report.frees == 0
    assert report.sentence == "smol needs 300 MiB; 4.0 GiB free: it fits."


def test_smallest_single_model_that_suffices_is_chosen():
    # Either model frees the missing 2 GiB; unloading the smaller keeps more of the user's work.
    assert choose_unloads(2 * GiB, [LLAMA, PHI, TINY]) == (PHI,)


def test_several_models_when_no_single_one_suffices_largest_first():
    assert choose_unloads(5 * GiB, [TINY, PHI, LLAMA]) == (LLAMA, PHI)
    report = fit_sentence("ollama/big:14b", 8 * GiB, 3 * GiB, [TINY, PHI, LLAMA])
    assert "unloading llama3.2:3b and phi3:mini frees 5.3 GiB" in report.sentence
    assert report.fits_after_unload


def test_pinned_models_are_never_suggested():
    pinned = LoadedModel(LLAMA.id, LLAMA.size_bytes, pinned=True)
    assert choose_unloads(2 * GiB, [pinned, TINY]) == ()
    report = fit_sentence("ollama/qwen2.5-coder:7b", int(5.6 * GiB), int(3.1 * GiB), [pinned, TINY])
    assert not report.fits and not report.fits_after_unload and report.unload == ()
    assert "unloading every unpinned model frees only 300 MiB" in report.sentence
    assert "smaller model" in report.sentence


def test_nothing_loaded_and_no_room():
    report = fit_sentence("ollama/big:70b", 40 * GiB, 8 * GiB)
    assert not report.fits and "no loaded model can be unloaded" in report.sentence


def test_check_fit_uses_the_guards_estimate_and_free_memory():
    guard = ResourceGuard(available=lambda: 5 * GiB, reserve_bytes=1 * GiB)
    geometry = {
        "block_count": 32,
        "embedding_length": 4096,
        "attention.head_count": 32,
        "attention.head_count_kv": 8,
    }
    info = ModelInfo("ollama", "qwen2.5-coder:7b", size_bytes=int(4.4 * GiB), geometry=geometry)
    report = check_fit(guard, info, 4096, [LLAMA])
    assert report.needed == guard.estimate(info, 4096).total and report.free == 4 * GiB
    assert not report.fits and report.unload == (LLAMA,)
    assert check_fit(guard, info, 4096, [LoadedModel(info.id, 5 * GiB)]).fits  # already loaded
    remote = ModelInfo("ollama", "far", size_bytes=50 * GiB, local=False)
    assert check_fit(guard, remote, 4096).fits
