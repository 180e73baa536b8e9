"""Fill-in-the-middle prompts without a server: the token sequence the embedded provider builds, the raw
templates sent to OpenAI-compatible servers, FIM detection in a GGUF's vocabulary, and which models the
serve layer lets a suffix go to."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from jarvis.providers import fim, gguf
from jarvis.providers.types import Infill


def test_psm_sequence_puts_the_fim_tokens_around_prefix_and_suffix():
    ids = (900, 901, 902)
    assert fim.fim_prompt_tokens([1, 2], [3], ids) == [900, 1, 2, 901, 3, 902]
    assert fim.fim_prompt_tokens([1, 2], [3], ids, bos=7) == [7, 900, 1, 2, 901, 3, 902]
    assert fim.fim_prompt_tokens([1, 2], [], ids, bos=-1) == [900, 1, 2, 901, 902]


def test_spm_sequence_puts_the_suffix_first():
    assert fim.fim_prompt_tokens([1], [2], (900, 901, 902), spm=True) == [901, 2, 900, 1, 902]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("qwen2.5-coder:7b", "<|fim_prefix|>def f(<|fim_suffix|>)\n<|fim_middle|>"),
        ("lmstudio-community/Qwen2.5-Coder-1.5B-GGUF", "<|fim_prefix|>def f(<|fim_suffix|>)\n<|fim_middle|>"),
        ("deepseek-coder-6.7b-base", "<｜fim▁begin｜>def f(<｜fim▁hole｜>)\n<｜fim▁end｜>"),
        ("starcoder2-3b", "<fim_prefix>def f(<fim_suffix>)\n<fim_middle>"),
        ("codellama-7b", "<PRE> def f( <SUF>)\n <MID>"),
        ("codestral-22b", "[SUFFIX])\n[PREFIX]def f("),
    ],
)
def test_family_templates(name, expected):
    template = fim.template_for(name)
    assert template is not None
    assert template.render(Infill("def f(", ")\n")) == expected


def test_no_template_for_a_chat_model():
    assert fim.template_for("llama3.2:3b") is None
    assert fim.template_for("smollm2-135m") is None


def write_gguf(path: Path, tokens: list[str], extra: dict[str, int] | None = None) -> Path:
    """A header-only GGUF (version 3, no tensors) with a vocabulary and optional u32 keys."""

    def string(text: str) -> bytes:
        raw = text.encode("utf-8")
        return struct.pack("<Q", len(raw)) + raw

    kvs = [string("general.architecture") + struct.pack("<I", 8) + string("llama")]
    for key, value in (extra or {}).items():
        kvs.append(string(key) + struct.pack("<I", 4) + struct.pack("<I", value))
    vocab = struct.pack("<IQ", 8, len(tokens)) + b"".join(string(t) for t in tokens)
    kvs.append(string("tokenizer.ggml.tokens") + struct.pack("<I", 9) + vocab)
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs))
    return path


def test_gguf_vocabulary_with_a_fim_triple(tmp_path):
    tokens = ["<|endoftext|>", "a", "b", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "c"]
    path = write_gguf(tmp_path / "coder.gguf", tokens)
    meta = gguf.read_metadata(path)
    assert gguf.vocabulary_has(path, frozenset({"<|fim_prefix|>", "<fim_prefix>"})) == {"<|fim_prefix|>"}
    assert fim.gguf_has_fim(path, meta)


def test_gguf_vocabulary_with_half_a_triple_or_none(tmp_path):
    half = write_gguf(tmp_path / "half.gguf", ["a", "<fim_prefix>", "<fim_suffix>"])
    assert not fim.gguf_has_fim(half, gguf.read_metadata(half))
    plain = write_gguf(tmp_path / "plain.gguf", ["a", "b"])
    assert not fim.gguf_has_fim(plain, gguf.read_metadata(plain))


def test_gguf_naming_fim_ids_outright(tmp_path):
    path = write_gguf(tmp_path / "ids.gguf", ["a"], {"tokenizer.ggml.fim_pre_token_id": 0})
    assert fim.gguf_has_fim(path, gguf.read_metadata(path))


def test_the_test_model_has_no_fim_tokens(model_path):
    # SmolLM2's vocabulary is StarCoder-like but has no FIM tokens: llama.cpp reports -1 for all three.
    assert not fim.gguf_has_fim(model_path, gguf.read_metadata(model_path))


async def test_embedded_model_without_fim_tokens_refuses_a_suffix_but_takes_a_raw_prompt(model_path):
    from jarvis.providers.embedded import EmbeddedProvider
    from jarvis.providers.errors import ProviderError
    from jarvis.providers.types import Completion, GenerationOptions

    provider = EmbeddedProvider(models={"smol": model_path}, include_default=False, n_ctx=512, n_threads=2)
    try:
        assert "fim" not in (await provider.model_info("smol")).capabilities
        with pytest.raises(ProviderError, match="has no fill-in-the-middle tokens"):
            async for _ in provider.stream_infill("smol", Infill("def f(", ")\n")):
                pass
        options = GenerationOptions(max_tokens=4, temperature=0)
        chunks = [c async for c in provider.stream_infill("smol", Infill("The sky is"), options)]
    finally:
        await provider.close()
    final = chunks[-1]
    assert isinstance(final, Completion) and final.text and final.completion_tokens == 4
    # The prompt itself (3-4 tokens with BOS), not the chat template around it (~30).
    assert final.prompt_tokens <= 5
