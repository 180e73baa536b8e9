"""GGUF header reading: real file, and every way a file can be broken."""

from __future__ import annotations

import pytest

from jarvis.providers import gguf


def test_reads_the_bundled_model(model_path):
    meta = gguf.read_metadata(model_path)
    assert meta["general.architecture"] == "llama"
    assert meta["tokenizer.ggml.tokens"] == 49152  # arrays are reduced to their length
    assert gguf.geometry(meta) == {
        "context_length": 8192,
        "block_count": 30,
        "embedding_length": 576,
        "attention.head_count": 9,
        "attention.head_count_kv": 3,
        "feed_forward_length": 1536,
        "vocab_size": 49152,  # from the token list's length: this file has no llama.vocab_size
    }


def test_tensor_table_accounts_for_every_weight_byte(model_path):
    tensors: list[gguf.TensorInfo] = []
    gguf.read_metadata(model_path, tensors)
    assert len(tensors) == 272
    by_name = {t.name: t for t in tensors}
    assert by_name["token_embd.weight"].dims == (576, 49152)
    assert by_name["token_embd.weight"].ggml_type == 8  # Q8_0
    assert by_name["blk.0.attn_q.weight"].ggml_type == 3  # Q4_1
    # Tensor data runs to the end of the file, so the sizes add up to the mmapped weights.
    assert model_path.stat().st_size - 3_000_000 < sum(t.nbytes for t in tensors) < model_path.stat().st_size


TRUNCATED_HEADER = b"GGUF\x03\x00\x00\x00" + b"\x00" * 8 + b"\x05"


@pytest.mark.parametrize("content", [b"", b"GGUF", b"hello world", TRUNCATED_HEADER])
def test_broken_files_raise_a_sentence(tmp_path, content):
    path = tmp_path / "m.gguf"
    path.write_bytes(content)
    with pytest.raises(gguf.GGUFError, match="is not a readable GGUF model file"):
        gguf.read_metadata(path)


def test_truncated_real_file(tmp_path, model_path):
    path = tmp_path / "cut.gguf"
    path.write_bytes(model_path.read_bytes()[:200_000])  # cut inside the tokenizer arrays
    with pytest.raises(gguf.GGUFError):
        gguf.read_metadata(path)


def test_missing_file(tmp_path):
    with pytest.raises(gguf.GGUFError, match="No model file"):
        gguf.read_metadata(tmp_path / "none.gguf")
