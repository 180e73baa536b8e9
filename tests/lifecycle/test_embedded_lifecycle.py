"""The embedded provider's lifecycle: load ahead of use, loaded-now with memory, unload frees llama.cpp's
model (a stream after it loads it again); nothing to delete or pull."""

from __future__ import annotations

import pytest

from jarvis.providers.embedded import DEFAULT_MODEL_NAME, EmbeddedProvider
from jarvis.providers.lifecycle import NotOffered
from jarvis.providers.lifecycle_embedded import EmbeddedLifecycle
from jarvis.providers.types import GenerationOptions
from tests.helpers import ask, collect


async def test_load_unload_and_load_again_by_use(model_path):
    provider = EmbeddedProvider("embedded", n_ctx=1024, n_threads=2)
    life = EmbeddedLifecycle(provider)
    try:
        assert await life.loaded() == []
        assert await life.load(DEFAULT_MODEL_NAME, keep_alive=None, num_ctx=None) == (
            f"Loaded {DEFAULT_MODEL_NAME} in embedded (in this process) with a 1024-token context."
        )
        [loaded] = await life.loaded()
        # Weights plus the KV cache llama.cpp allocates: n_ctx × layers × (k + v) × f16.
        assert loaded.size_bytes > model_path.stat().st_size and loaded.context_length == 1024
        assert (await provider.model_info(DEFAULT_MODEL_NAME)).loaded
        assert "its memory is free" in await life.unload(DEFAULT_MODEL_NAME)
        assert await life.loaded() == [] and provider.loaded_contexts() == []
        assert (
            await life.unload(DEFAULT_MODEL_NAME)
            == f"{DEFAULT_MODEL_NAME} was not loaded in embedded (in this process)."
        )
        _, final = await collect(
            provider.stream_chat(DEFAULT_MODEL_NAME, ask("hi"), GenerationOptions(max_tokens=2))
        )
        assert final.completion_tokens and provider.loaded_contexts() == [(DEFAULT_MODEL_NAME, 1024)]
        # The bundled model is not in [embedded.models]: the way to stop offering it is include_default.
        with pytest.raises(NotOffered, match="bundled with Jarvis") as refused:
            await life.delete(DEFAULT_MODEL_NAME)
        assert "include_default = false" in (refused.value.hint or "")
        provider.add_model("mine", model_path)
        with pytest.raises(NotOffered, match="file of yours"):
            await life.delete("mine")
    finally:
        await provider.close()
