"""The embedded provider with the real SmolLM2 model through llama-cpp-python."""

from __future__ import annotations

import asyncio

import pytest

from jarvis.providers.embedded import DEFAULT_MODEL_NAME, EmbeddedProvider
from jarvis.providers.errors import ContextOverflow, ModelNotFound, OutOfMemory
from jarvis.providers.resources import ResourceGuard
from jarvis.providers.types import GenerationOptions
from tests.helpers import GREEDY, ask, collect


@pytest.fixture(scope="module")
async def embedded():
    provider = EmbeddedProvider()
    yield provider
    await provider.close()


async def test_lists_bundled_model_with_gguf_metadata(embedded, model_path):
    [info] = await embedded.list_models()
    assert info.id == f"embedded/{DEFAULT_MODEL_NAME}"
    assert info.context_length == 8192
    assert info.size_bytes == model_path.stat().st_size
    assert info.geometry["block_count"] == 30
    assert info.family == "llama" and info.quantization == "Q4_1"


async def test_streams_real_code_and_reports_usage(embedded):
    pieces, final = await collect(
        embedded.stream_chat(
            DEFAULT_MODEL_NAME,
            ask("Write a Python function that reverses a string."),
            GenerationOptions(temperature=0, max_tokens=120),
        )
    )
    text = "".join(pieces)
    assert text == final.text
    assert "def " in text and "[::-1]" in text
    assert final.completion_tokens == len(pieces)
    assert 20 < final.prompt_tokens < 80
    assert final.ttft_s is not None and 0 < final.ttft_s < final.total_s
    assert final.tokens_per_s and final.tokens_per_s > 1
    assert final.finish_reason == "stop" and not final.usage_estimated


async def test_max_tokens_stops_with_length(embedded):
    _, final = await collect(
        embedded.stream_chat(DEFAULT_MODEL_NAME, ask("Count to fifty."), GenerationOptions(max_tokens=5))
    )
    assert final.completion_tokens == 5
    assert final.finish_reason == "length"


async def test_cancel_mid_stream_then_model_is_free(embedded):
    stream = embedded.stream_chat(
        DEFAULT_MODEL_NAME, ask("Tell a very long story."), GenerationOptions(max_tokens=400)
    )
    got = 0
    async for _ in stream:
        got += 1
        if got == 3:
            break
    await stream.aclose()
    # The generation thread has stopped and released the model: a new request runs at once.
    stream = embedded.stream_chat(DEFAULT_MODEL_NAME, ask("hi"), GREEDY)
    _, final = await asyncio.wait_for(collect(stream), 30)
    assert final.completion_tokens > 0


async def test_task_cancellation_stops_stream(embedded):
    started = asyncio.Event()

    async def consume():
        async for _ in embedded.stream_chat(
            DEFAULT_MODEL_NAME, ask("Write a long essay."), GenerationOptions(max_tokens=500)
        ):
            started.set()

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    _, final = await collect(embedded.stream_chat(DEFAULT_MODEL_NAME, ask("hi"), GREEDY))
    assert final.text


async def test_counts_tokens_with_real_tokenizer(embedded):
    assert await embedded.count_tokens(DEFAULT_MODEL_NAME, "hello world") == 2


async def test_prompt_larger_than_context_is_a_clear_error(embedded):
    with pytest.raises(ContextOverflow) as err:
        await collect(
            embedded.stream_chat(DEFAULT_MODEL_NAME, ask("word " * 6000), GenerationOptions(num_ctx=1024))
        )
    assert "context" in str(err.value) and "1024" in str(err.value)


async def test_unknown_model_is_model_not_found(embedded):
    with pytest.raises(ModelNotFound, match="no model named 'nope'"):
        await collect(embedded.stream_chat("nope", ask("hi")))


async def test_bad_gguf_path_is_a_sentence_not_a_traceback(tmp_path):
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("this is not a model")
    provider = EmbeddedProvider(
        models={"broken": not_gguf, "missing": tmp_path / "nope.gguf"}, include_default=False
    )
    assert await provider.list_models() == []
    problems = dict(provider.broken_models())
    assert "not a readable GGUF model file" in problems["broken"]
    assert "does not exist" in problems["missing"]
    with pytest.raises(ModelNotFound, match="not a readable GGUF"):
        await collect(provider.stream_chat("broken", ask("hi")))


async def test_guard_refuses_model_that_does_not_fit():
    guard = ResourceGuard(available=lambda: 300 * 1024 * 1024, reserve_bytes=0)
    provider = EmbeddedProvider(admit=guard.admit)
    with pytest.raises(OutOfMemory) as err:
        await collect(provider.stream_chat(DEFAULT_MODEL_NAME, ask("hi")))
    assert "MiB" in str(err.value) and "free" in str(err.value)
    await provider.close()


async def test_evicting_a_model_waits_for_its_running_generation():
    # max_loaded=1: a second context size evicts the first while it is still decoding. Freeing it under
    # the decoding thread crashed the process; now the first stream finishes whole, then it is freed.
    provider = EmbeddedProvider(max_loaded=1)
    try:
        first = asyncio.create_task(
            collect(
                provider.stream_chat(
                    DEFAULT_MODEL_NAME,
                    ask("Count from 1 to 100, separated by commas."),
                    GREEDY.model_copy(update={"max_tokens": 60}),
                )
            )
        )
        while not provider._loaded:
            await asyncio.sleep(0.01)
        [loaded] = provider._loaded.values()
        while loaded.worker is None:
            await asyncio.sleep(0.01)
        _, other = await collect(
            provider.stream_chat(
                DEFAULT_MODEL_NAME,
                ask("Say hi."),
                GREEDY.model_copy(update={"max_tokens": 5, "num_ctx": 1024}),
            )
        )
        pieces, final = await first
        assert loaded.freed and loaded.worker.done()
        assert final.finish_reason in ("length", "stop") and final.completion_tokens == len(pieces) > 10
        assert other.completion_tokens > 0
    finally:
        await provider.close()


async def test_close_stops_a_generation_whose_reader_went_away():
    provider = EmbeddedProvider()
    stream = provider.stream_chat(DEFAULT_MODEL_NAME, ask("Count to 500."), GenerationOptions(max_tokens=400))
    await anext(stream)  # decoding has started; the reader now stops reading without closing the stream
    [loaded] = provider._loaded.values()
    await provider.close()  # stops the thread after its current token, then frees: no crash
    assert loaded.freed and loaded.worker is not None and loaded.worker.done()
    await stream.aclose()
