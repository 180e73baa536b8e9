"""A faithful Ollama-API test server: NDJSON streams, nanosecond durations, omitted zero fields,
{"error": ...} bodies, errors mid-stream under HTTP 200, and silent front-truncation past num_ctx
(ollama #3839) - generating real tokens with llama.cpp.

Run: python -m tests.servers.ollama_server --port 11434 --model PATH
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from jarvis.providers import gguf

MODEL_NAME = "smollm2:135m"
#: Listed like a real pulled model, but "requires more system memory" when run: Ollama's OOM answer.
HUGE_MODEL = "bigcoder:70b"
HUGE_BYTES = 42 * 1024**3
#: Ollama's default when a request names no num_ctx (recent releases below 24 GiB VRAM).
DEFAULT_NUM_CTX = 4096


def now_rfc3339() -> str:
    # Ollama (Go) prints nanoseconds; Python has microseconds, pad to look the same.
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


def omit_empty(d: dict) -> dict:
    """Go's omitempty: zero numbers, empty strings, empty lists and None vanish."""
    return {k: v for k, v in d.items() if v not in (None, "", 0, [], {})}


class Runner:
    """One loaded llama.cpp model; one request at a time (OLLAMA_NUM_PARALLEL=1)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.meta = gguf.read_metadata(path)
        self.arch = str(self.meta.get("general.architecture", "llama"))
        self.size = path.stat().st_size
        with path.open("rb") as f:
            self.digest = hashlib.sha256(f.read(1 << 20)).hexdigest()
        self.llm = None
        self.n_ctx = 0
        self.lock = asyncio.Lock()
        self.loaded_at: float | None = None
        self.formatter = None

    def ensure_loaded(self, n_ctx: int) -> int:
        """Load (or reload with another context); returns load time in ns."""
        if self.llm is not None and self.n_ctx == n_ctx:
            return 0
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        t = time.perf_counter_ns()
        if self.llm is not None:
            self.llm.close()
        self.llm = Llama(model_path=str(self.path), n_ctx=n_ctx, n_threads=2, verbose=False)
        self.n_ctx = n_ctx
        tmpl = self.llm.metadata.get("tokenizer.chat_template")
        eos = self.llm.detokenize([self.llm.token_eos()], special=True).decode("utf-8", "replace")
        bos = self.llm.detokenize([self.llm.token_bos()], special=True).decode("utf-8", "replace")
        self.formatter = Jinja2ChatFormatter(template=tmpl, eos_token=eos, bos_token=bos)
        self.loaded_at = time.time()
        return time.perf_counter_ns() - t

    def prompt_tokens(self, messages: list[dict] | None, prompt: str | None, system: str | None):
        if messages is not None:
            formatted = self.formatter(messages=messages)
            text, stops = formatted.prompt, formatted.stop
        else:
            msgs = ([{"role": "system", "content": system}] if system else []) + [
                {"role": "user", "content": prompt or ""}
            ]
            formatted = self.formatter(messages=msgs)
            text, stops = formatted.prompt, formatted.stop
        tokens = self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        stops = [stops] if isinstance(stops, str) else list(stops or [])
        return tokens, stops


def model_details() -> dict:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": "llama",
        "families": ["llama"],
        "parameter_size": "134.52M",
        "quantization_level": "Q4_1",
    }


def make_app(model_path: Path) -> Starlette:
    runner = Runner(model_path)
    modified = (datetime.now(UTC) - timedelta(days=3)).isoformat()

    def not_found(name: str) -> JSONResponse:
        return JSONResponse({"error": f"model '{name}' not found"}, status_code=404)

    def known(name: str) -> str | None:
        name = name if ":" in name else f"{name}:latest"
        if name in (MODEL_NAME, HUGE_MODEL):
            return name
        return None

    async def root(_: Request) -> Response:
        return PlainTextResponse("Ollama is running")

    async def version(_: Request) -> Response:
        return JSONResponse({"version": "0.12.6"})

    async def tags(_: Request) -> Response:
        models = []
        listed = ((MODEL_NAME, runner.size, runner.digest), (HUGE_MODEL, HUGE_BYTES, "f" * 64))
        for name, size, digest in listed:
            models.append(
                {
                    "name": name,
                    "model": name,
                    "modified_at": modified,
                    "size": size,
                    "digest": digest,
                    "details": model_details(),
                }
            )
        return JSONResponse({"models": models})

    async def show(request: Request) -> Response:
        body = await request.json()
        name = known(body.get("model") or body.get("name") or "")
        if name is None:
            return not_found(body.get("model", ""))
        info = {"general.architecture": runner.arch, "general.parameter_count": 134515008}
        for key, value in runner.meta.items():
            if key.startswith(runner.arch + ".") and isinstance(value, (int, float)):
                info[key] = value
        if name == HUGE_MODEL:
            info.update(
                {
                    f"{runner.arch}.block_count": 80,
                    f"{runner.arch}.embedding_length": 8192,
                    f"{runner.arch}.attention.head_count": 64,
                    f"{runner.arch}.attention.head_count_kv": 8,
                    f"{runner.arch}.context_length": 131072,
                }
            )
        return JSONResponse(
            {
                "license": "Apache License 2.0",
                "modelfile": f"FROM {runner.path}\n",
                "parameters": 'stop                           "<|im_end|>"',
                "template": (
                    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}"
                    "<|im_start|>assistant\n"
                ),
                "details": model_details(),
                "model_info": info,
                "capabilities": ["completion"],
                "modified_at": modified,
            }
        )

    async def ps(_: Request) -> Response:
        models = []
        if runner.llm is not None:
            expires = datetime.now(UTC) + timedelta(minutes=5)
            models.append(
                {
                    "name": MODEL_NAME,
                    "model": MODEL_NAME,
                    "size": runner.size + 60_000_000,
                    "digest": runner.digest,
                    "details": model_details(),
                    "expires_at": expires.isoformat(),
                    "size_vram": 0,
                    "context_length": runner.n_ctx,
                }
            )
        return JSONResponse({"models": models})

    async def generate_like(request: Request, chat: bool) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse(
                {"error": "invalid character looking for beginning of value"}, status_code=400
            )
        raw_name = body.get("model") or ""
        name = known(raw_name)
        if not raw_name:
            return JSONResponse({"error": "model is required"}, status_code=400)
        if name is None:
            return JSONResponse(
                {"error": f'model "{raw_name}" not found, try pulling it first'}, status_code=404
            )
        if name == HUGE_MODEL:
            too_big = "model requires more system memory (44.1 GiB) than is available (9.3 GiB)"
            return JSONResponse({"error": too_big}, status_code=500)
        options = body.get("options") or {}
        num_ctx = int(options.get("num_ctx") or DEFAULT_NUM_CTX)
        events = run_model(name, body, options, num_ctx, chat)
        if body.get("stream", True):
            lines = (json.dumps(e, separators=(",", ":")) + "\n" async for e in events)
            return StreamingResponse(lines, media_type="application/x-ndjson")
        text, last = [], None
        async for event in events:
            if "error" in event:
                return JSONResponse(event, status_code=500)
            last = event
            text.append(event["message"]["content"] if chat else event["response"])
        answer = "".join(text)
        last["message" if chat else "response"] = {"role": "assistant", "content": answer} if chat else answer
        return JSONResponse(last)

    async def run_model(name: str, body: dict, options: dict, num_ctx: int, chat: bool):
        """Yields Ollama's stream objects; holds the model for the whole answer, as Ollama's scheduler
        does."""
        async with runner.lock:
            started = time.perf_counter_ns()
            load_ns = await asyncio.to_thread(runner.ensure_loaded, num_ctx)
            tokens, stops = runner.prompt_tokens(
                body.get("messages") if chat else None, body.get("prompt"), body.get("system")
            )
            # The trap: a prompt longer than the window loses its beginning, with no error.
            if len(tokens) > num_ctx - 1:
                tokens = tokens[-(num_ctx - 1) :]
            room = num_ctx - len(tokens)
            num_predict = int(options.get("num_predict") or -1)
            kwargs = {
                "max_tokens": max(min(num_predict if num_predict > 0 else room, room), 1),
                "stop": stops + list(options.get("stop") or []),
                "temperature": options.get("temperature", 0.8),
                "top_p": options.get("top_p", 0.9),
            }
            if options.get("seed") is not None:
                kwargs["seed"] = options["seed"]
            queue: asyncio.Queue = asyncio.Queue()
            stop_event = threading.Event()
            loop = asyncio.get_running_loop()
            timings: dict = {}

            def produce() -> None:
                try:
                    t0 = time.perf_counter_ns()
                    first, count, finish = None, 0, "stop"
                    for chunk in runner.llm.create_completion(prompt=tokens, stream=True, **kwargs):
                        first = first or time.perf_counter_ns()
                        if stop_event.is_set():
                            break
                        choice = chunk["choices"][0]
                        if choice.get("text"):
                            count += 1
                            loop.call_soon_threadsafe(queue.put_nowait, ("text", choice["text"]))
                        finish = choice.get("finish_reason") or finish
                    end = time.perf_counter_ns()
                    first = first or end
                    timings.update(
                        prompt_eval_duration=first - t0,
                        eval_duration=end - first,
                        eval_count=count,
                        done_reason=finish,
                    )
                    loop.call_soon_threadsafe(queue.put_nowait, ("done", None))
                except Exception as err:  # Ollama reports a failure mid-stream as an error object
                    loop.call_soon_threadsafe(queue.put_nowait, ("error", str(err)))

            worker = loop.run_in_executor(None, produce)
            key = "message" if chat else "response"
            try:
                while True:
                    kind, item = await queue.get()
                    if kind == "error":
                        yield {"error": item}
                        return
                    out = {"model": name, "created_at": now_rfc3339()}
                    if kind == "text":
                        out[key] = {"role": "assistant", "content": item} if chat else item
                        out["done"] = False
                        yield out
                        continue
                    out[key] = {"role": "assistant", "content": ""} if chat else ""
                    out["done"] = True
                    out.update(
                        omit_empty(
                            {
                                "done_reason": timings["done_reason"],
                                "total_duration": time.perf_counter_ns() - started,
                                "load_duration": load_ns,
                                "prompt_eval_count": len(tokens),
                                "prompt_eval_duration": timings["prompt_eval_duration"],
                                "eval_count": timings["eval_count"],
                                "eval_duration": timings["eval_duration"],
                            }
                        )
                    )
                    yield out
                    return
            finally:
                stop_event.set()  # a closed connection stops generation, as in Ollama
                await asyncio.shield(worker)

    async def chat(request: Request) -> Response:
        return await generate_like(request, chat=True)

    async def generate(request: Request) -> Response:
        return await generate_like(request, chat=False)

    return Starlette(
        routes=[
            Route("/", root, methods=["GET", "HEAD"]),
            Route("/api/version", version),
            Route("/api/tags", tags),
            Route("/api/show", show, methods=["POST"]),
            Route("/api/ps", ps),
            Route("/api/chat", chat, methods=["POST"]),
            Route("/api/generate", generate, methods=["POST"]),
        ]
    )


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    path = args.model or gguf.default_model_path()
    uvicorn.run(make_app(path), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
