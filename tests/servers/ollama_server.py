"""A faithful Ollama-API test server: NDJSON streams, nanosecond durations, omitted zero fields,
{"error": ...} bodies, errors mid-stream under HTTP 200, and silent front-truncation past num_ctx
(ollama #3839) - generating real tokens with llama.cpp.

Tools, as /api/chat does them: a model whose /api/show `capabilities` lack "tools" gets 400 "... does not
support tools" when a request carries `tools`. SmolLM2 cannot really call functions, so the calls are
decided here: when the request has tools and the last message is a user turn naming one or more of them,
the answer is those calls, arguments filled from each schema (a string: the message's last word; a number:
the first number in it; an enum: its first value). The wire shape is Ollama's: the whole calls on one
`done: false` line (`message.tool_calls`, no `id`, `function.arguments` an object, `function.index`
omitted when 0 as Go's omitempty does), content "", then the final line with done_reason "stop"; without
streaming the calls are in the one message. A tool result (role "tool") is read by the chat template.

Model lifecycle, as ollama's server/routes.go and api/types.go do it:
- /api/pull streams {"status":"pulling manifest"}, then {"status":"pulling <12 hex>","digest","total",
  "completed"} over a fake blob, then "verifying sha256 digest", "writing manifest", {"status":"success"};
  a failure is a last {"error": ...} line under HTTP 200. The model is listed only once its manifest is
  written; a cut pull keeps its partial blob and the next pull of that name resumes from it.
  Pullable names start with "fake-" (any other unknown name: "pull model manifest: file does not exist").
  Knobs ride in the tag, joined by "-": size<N>m (blob MiB, default 16), rate<N>m (MiB/s, default 64),
  fail<P> (an error once the pull passes P %, not again when resuming past it).
  Other parts of the tag are free: "fake-coder:7b-size32m-rate8m-fail50". Pulled and copied models
  answer with the SmolLM2 weights.
- /api/delete (DELETE, 404 for an unknown model), /api/copy (404 for an unknown source).
- /api/ps lists loaded models with size, size_vram, expires_at, context_length, details.
  keep_alive on generate/chat: an empty prompt (or no messages) loads the model (done_reason "load");
  with keep_alive 0 it unloads it (done_reason "unload") and it is gone from /api/ps. Numbers are
  seconds, strings Go durations ("5m", "1h30m"), negative = forever; default 5m.

Run: python -m tests.servers.ollama_server --port 11434 --model PATH
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import re
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
#: Models whose /api/show lists "tools" (the Ollama library's smollm2 does).
TOOL_MODELS = frozenset({MODEL_NAME})
#: Listed like a real pulled model, but "requires more system memory" when run: Ollama's OOM answer.
HUGE_MODEL = "bigcoder:70b"
HUGE_BYTES = 42 * 1024**3
#: A model template with suffix support, as qwen2.5-coder's: .Suffix set -> the FIM tokens around the prompt.
FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE = "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"
CHAT_TEMPLATE = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}"
    "<|im_start|>assistant\n"
)
FIM_TEMPLATE = (
    f"{{{{- if .Suffix }}}}{FIM_PREFIX}{{{{ .Prompt }}}}{FIM_SUFFIX}{{{{ .Suffix }}}}{FIM_MIDDLE}"
    f"{{{{- else }}}}{CHAT_TEMPLATE}{{{{- end }}}}"
)
#: Ollama's default when a request names no num_ctx (recent releases below 24 GiB VRAM).
DEFAULT_NUM_CTX = 4096
#: Ollama's default keep_alive (OLLAMA_KEEP_ALIVE unset).
DEFAULT_KEEP_ALIVE_S = 300.0
#: What the runner holds beyond the weights (KV cache, compute buffers), as /api/ps reports it.
RUNNER_OVERHEAD = 60_000_000
MiB = 1024 * 1024
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class BadDuration(ValueError):
    pass


def keep_alive_seconds(value: object) -> float | None:
    """api.Duration's UnmarshalJSON: a number is seconds, a string a Go duration; negative is forever
    (returned as math.inf); None when the request named none."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise BadDuration(f"json: cannot unmarshal bool into Go value of type api.Duration: {value}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            # (unverified) newer releases read a bare number in a string as seconds; be lenient.
            seconds = float(text)
        else:
            parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text.lstrip("+-"))
            joined = "".join(a + b for a, b in parts)
            if not parts or joined != text.lstrip("+-"):
                raise BadDuration(f'time: invalid duration "{value}"')
            seconds = sum(float(a) * _GO_UNITS[b] for a, b in parts)
            seconds = -seconds if text.startswith("-") else seconds
    else:
        raise BadDuration("json: cannot unmarshal object into Go value of type api.Duration")
    return math.inf if seconds < 0 else seconds


def pull_knobs(name: str) -> dict[str, float] | None:
    """The fake blob's size, rate and failure point, read from a "fake-..." model name's tag."""
    base, _, tag = name.partition(":")
    if not base.startswith("fake-"):
        return None
    knobs = {"size": 16 * MiB, "rate": 64 * MiB, "fail": -1.0}
    for part in tag.split("-"):
        if m := re.fullmatch(r"size(\d+(?:\.\d+)?)m", part):
            knobs["size"] = float(m[1]) * MiB
        elif m := re.fullmatch(r"rate(\d+(?:\.\d+)?)m", part):
            knobs["rate"] = float(m[1]) * MiB
        elif m := re.fullmatch(r"fail(\d+)", part):
            knobs["fail"] = float(m[1])
    return knobs


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

    def fim_tokens(self, prompt: str, suffix: str) -> tuple[list[int], str]:
        """Ollama renders the template's FIM branch as text and tokenizes it with special tokens parsed:
        the model's own FIM tokens when its vocabulary has them (SmolLM2's has not: plain text)."""
        text = f"{FIM_PREFIX}{prompt}{FIM_SUFFIX}{suffix}{FIM_MIDDLE}"
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True), text

    def prompt_tokens(self, messages: list[dict] | None, prompt: str | None, system: str | None):
        if messages is not None:
            # Ollama's Message has content as a plain Go string: left out, it is "" (the ollama client
            # leaves out an empty one), never a template error.
            messages = [{"content": "", **m} for m in messages]
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


def tool_calls_for(messages: list[dict], tools: list[dict]) -> list[dict]:
    """The calls the last user message asks for by name, in Ollama's shape ([] when it names none)."""
    last = messages[-1] if messages else {}
    if last.get("role") != "user":
        return []
    text = str(last.get("content") or "")
    named = [t.get("function") or {} for t in tools if (t.get("function") or {}).get("name") in text]
    named.sort(key=lambda fn: text.index(fn["name"]))
    calls = []
    for i, fn in enumerate(named):
        function: dict = {"name": fn["name"], "arguments": fill_arguments(fn.get("parameters") or {}, text)}
        if i:  # Go's omitempty: index 0 is left out
            function = {"index": i, **function}
        calls.append({"function": function})
    return calls


def fill_arguments(schema: dict, text: str) -> dict:
    words = re.findall(r"[\w.-]+", text)
    numbers = re.findall(r"-?\d+(?:\.\d+)?", text)
    out: dict = {}
    for key, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type") if isinstance(prop, dict) else None
        if isinstance(prop, dict) and prop.get("enum"):
            out[key] = prop["enum"][0]
        elif kind == "integer":
            out[key] = int(float(numbers[0])) if numbers else 1
        elif kind == "number":
            out[key] = float(numbers[0]) if numbers else 1.0
        elif kind == "boolean":
            out[key] = True
        elif kind == "array":
            out[key] = []
        elif kind == "object":
            out[key] = {}
        else:
            out[key] = words[-1] if words else key
    return out


def model_details(parameter_size: str = "134.52M") -> dict:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": "llama",
        "families": ["llama"],
        "parameter_size": parameter_size,
        "quantization_level": "Q4_1",
    }


def make_app(model_path: Path, insert_models: tuple[str, ...] = ()) -> Starlette:
    """``insert_models``: more names answering with the same weights, whose template has suffix support
    (/api/show capabilities ["completion", "insert"]); every other model refuses a suffix, as Ollama does."""
    runner = Runner(model_path)
    #: What each /api/generate put before the model (prompt text, FIM or not), for tests: GET /test/prompts.
    heard: list[dict] = []
    modified = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    #: Installed models (what /api/tags lists): name -> size, digest, details, modified_at.
    installed: dict[str, dict] = {
        MODEL_NAME: {"size": runner.size, "digest": runner.digest, "details": model_details()},
        HUGE_MODEL: {"size": HUGE_BYTES, "digest": "f" * 64, "details": model_details("70.6B")},
    }
    for insert_name in insert_models:
        installed[insert_name] = {"size": runner.size, "digest": runner.digest, "details": model_details()}
    inserting = set(insert_models)
    for record in installed.values():
        record["modified_at"] = modified
    #: Loaded models (what /api/ps lists): name -> expiry (time.time(), inf = forever), context length.
    loaded: dict[str, dict] = {}
    #: Bytes of a blob already on disk from a cut pull, by digest: the next pull resumes there.
    partial: dict[str, int] = {}

    def not_found(name: str) -> JSONResponse:
        return JSONResponse({"error": f"model '{name}' not found"}, status_code=404)

    def full_name(name: str) -> str:
        return name if ":" in name else f"{name}:latest"

    def known(name: str) -> str | None:
        name = full_name(name)
        return name if name in installed else None

    def expire() -> None:
        """The scheduler's expiry timer: a model past its keep_alive leaves memory."""
        now = time.time()
        for name in [n for n, r in loaded.items() if r["expires"] <= now]:
            del loaded[name]

    def keep_loaded(name: str, keep_alive: float | None, n_ctx: int) -> None:
        seconds = DEFAULT_KEEP_ALIVE_S if keep_alive is None else keep_alive
        if seconds == 0:
            loaded.pop(name, None)
            return
        loaded[name] = {"expires": time.time() + seconds, "n_ctx": n_ctx}

    async def free_runner_if_idle() -> None:
        # Every alias answers with the one SmolLM2 runner: free it when none of them is loaded.
        expire()
        if not loaded and runner.llm is not None:
            async with runner.lock:
                if not loaded and runner.llm is not None:
                    runner.llm.close()
                    runner.llm = None
                    runner.n_ctx = 0

    async def root(_: Request) -> Response:
        return PlainTextResponse("Ollama is running")

    async def version(_: Request) -> Response:
        return JSONResponse({"version": "0.12.6"})

    async def tags(_: Request) -> Response:
        models = []
        for name, record in installed.items():
            models.append(
                {
                    "name": name,
                    "model": name,
                    "modified_at": record["modified_at"],
                    "size": record["size"],
                    "digest": record["digest"],
                    "details": record["details"],
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
                "template": FIM_TEMPLATE if name in inserting else CHAT_TEMPLATE,
                "details": installed[name]["details"],
                "model_info": info,
                "capabilities": (
                    ["completion", "tools"]
                    if name in TOOL_MODELS
                    else ["completion", "insert"]
                    if name in inserting
                    else ["completion"]
                ),
                "modified_at": installed[name]["modified_at"],
            }
        )

    async def ps(_: Request) -> Response:
        expire()
        models = []
        for name, record in loaded.items():
            expires = record["expires"]
            # Go's time.Time of "forever" (now + MaxInt64 ns) lands in the 23rd century.
            at = (
                datetime.now(UTC) + timedelta(microseconds=(1 << 63) // 1000)
                if expires == math.inf
                else (datetime.fromtimestamp(expires, UTC))
            )
            models.append(
                {
                    "name": name,
                    "model": name,
                    "size": installed[name]["size"] + RUNNER_OVERHEAD,
                    "digest": installed[name]["digest"],
                    "details": installed[name]["details"],
                    "expires_at": at.isoformat(),
                    "size_vram": 0,
                    "context_length": record["n_ctx"],
                }
            )
        return JSONResponse({"models": models})

    async def pull(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse(
                {"error": "invalid character looking for beginning of value"}, status_code=400
            )
        raw = body.get("model") or body.get("name") or ""
        if not raw:
            return JSONResponse({"error": "model is required"}, status_code=400)
        name = full_name(raw)
        events = pull_events(name)
        if body.get("stream", True):
            lines = (json.dumps(e, separators=(",", ":")) + "\n" async for e in events)
            return StreamingResponse(lines, media_type="application/x-ndjson")
        last: dict = {}
        async for event in events:  # waitForStream: the last progress, or the error with status 500
            if "error" in event:
                return JSONResponse(event, status_code=500)
            last = event
        return JSONResponse(last)

    async def pull_events(name: str):
        yield {"status": "pulling manifest"}
        knobs = pull_knobs(name)
        if knobs is None and name not in installed:
            yield {"error": "pull model manifest: file does not exist"}
            return
        if name in installed:  # every layer already on disk: Ollama checks and finishes at once
            digest = "sha256:" + installed[name]["digest"]
            size = installed[name]["size"]
            yield {"status": f"pulling {digest[7:19]}", "digest": digest, "total": size, "completed": size}
        else:
            digest = "sha256:" + hashlib.sha256(name.encode()).hexdigest()
            total = int(knobs["size"])
            done = partial.get(digest, 0)
            fail_at = (
                total * knobs["fail"] / 100
                if knobs["fail"] >= 0 and done < total * knobs["fail"] / 100
                else None
            )
            step = max(total // 64, 1)
            try:
                while done < total:
                    progress = omit_empty(
                        {
                            "status": f"pulling {digest[7:19]}",
                            "digest": digest,
                            "total": total,
                            "completed": done,
                        }
                    )
                    yield progress
                    await asyncio.sleep(min(step, total - done) / knobs["rate"])
                    done = min(done + step, total)
                    partial[digest] = done
                    if fail_at is not None and done >= fail_at:
                        yield {**progress, "completed": done}
                        yield {"error": f"max retries exceeded: unexpected EOF (pulling {digest[7:19]})"}
                        return
            finally:
                partial[digest] = done  # a client that goes away cancels the download; the blob stays
            yield {"status": f"pulling {digest[7:19]}", "digest": digest, "total": total, "completed": total}
            yield {"status": "verifying sha256 digest"}
            yield {"status": "writing manifest"}
            partial.pop(digest, None)
            tag = name.partition(":")[2]
            size_label = next((p.upper() for p in tag.split("-") if re.fullmatch(r"\d+(\.\d+)?b", p)), "7B")
            installed[name] = {
                "size": total,
                "digest": digest[7:],
                "details": model_details(size_label),
                "modified_at": datetime.now(UTC).isoformat(),
            }
        yield {"status": "success"}

    async def delete(request: Request) -> Response:
        body = await request.json()
        raw = body.get("model") or body.get("name") or ""
        name = known(raw)
        if name is None:
            return not_found(raw)
        loaded.pop(name, None)
        del installed[name]
        await free_runner_if_idle()
        return Response(status_code=200)

    async def copy(request: Request) -> Response:
        body = await request.json()
        source = known(body.get("source") or "")
        destination = body.get("destination") or ""
        if source is None:
            return not_found(body.get("source") or "")
        if not destination:
            return JSONResponse({"error": "destination name is invalid"}, status_code=400)
        installed[full_name(destination)] = {
            **installed[source],
            "modified_at": datetime.now(UTC).isoformat(),
        }
        return Response(status_code=200)

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
        try:
            keep_alive = keep_alive_seconds(body.get("keep_alive"))
        except BadDuration as err:
            return JSONResponse({"error": str(err)}, status_code=400)
        if not chat and body.get("suffix") and name not in inserting:
            # server/routes.go: a suffix asks for the insert capability, which the model lacks.
            return JSONResponse(
                {"error": f"registry.ollama.ai/library/{name} does not support insert"}, status_code=400
            )
        empty = not body.get("messages") if chat else not body.get("prompt")
        if empty and keep_alive == 0:  # the scheduler expires the runner at once
            loaded.pop(name, None)
            await free_runner_if_idle()
            return JSONResponse(lifecycle_answer(name, chat, "unload"))
        if name == HUGE_MODEL:
            too_big = "model requires more system memory (44.1 GiB) than is available (9.3 GiB)"
            return JSONResponse({"error": too_big}, status_code=500)
        options = body.get("options") or {}
        num_ctx = int(options.get("num_ctx") or DEFAULT_NUM_CTX)
        if empty:  # load ahead of use: answered as one JSON object even when stream is true
            async with runner.lock:
                await asyncio.to_thread(runner.ensure_loaded, num_ctx)
            keep_loaded(name, keep_alive, num_ctx)
            return JSONResponse(lifecycle_answer(name, chat, "load"))
        tools = body.get("tools") if chat else None
        if tools and name not in TOOL_MODELS:
            # (unverified) the exact prefix; "does not support tools" is what clients match.
            error = f"registry.ollama.ai/library/{name} does not support tools"
            return JSONResponse({"error": error}, status_code=400)
        calls = tool_calls_for(body.get("messages") or [], tools) if tools else []
        if calls:
            events = call_model(name, body, num_ctx, calls, keep_alive)
        else:
            events = run_model(name, body, options, num_ctx, chat, keep_alive)
        if body.get("stream", True):
            lines = (json.dumps(e, separators=(",", ":")) + "\n" async for e in events)
            return StreamingResponse(lines, media_type="application/x-ndjson")
        text, last, called = [], None, []
        async for event in events:
            if "error" in event:
                return JSONResponse(event, status_code=500)
            last = event
            text.append(event["message"]["content"] if chat else event["response"])
            called += event["message"].get("tool_calls", []) if chat else []
        answer = "".join(text)
        last["message" if chat else "response"] = {"role": "assistant", "content": answer} if chat else answer
        if called:
            last["message"]["tool_calls"] = called
        return JSONResponse(last)

    def lifecycle_answer(name: str, chat: bool, reason: str) -> dict:
        out: dict = {"model": name, "created_at": now_rfc3339()}
        if chat:
            out["message"] = {"role": "assistant", "content": ""}
        else:
            out["response"] = ""
        return {**out, "done": True, "done_reason": reason}

    async def call_model(name: str, body: dict, num_ctx: int, calls: list[dict], keep_alive: float | None):
        """The tool calls' lines, with the prompt really tokenized (its count) as the model would read it."""
        try:
            async with runner.lock:
                started = time.perf_counter_ns()
                load_ns = await asyncio.to_thread(runner.ensure_loaded, num_ctx)
                tokens, _ = runner.prompt_tokens(body.get("messages"), None, None)
                said = runner.llm.tokenize(json.dumps(calls).encode(), add_bos=False)
            message = {"role": "assistant", "content": "", "tool_calls": calls}
            yield {"model": name, "created_at": now_rfc3339(), "message": message, "done": False}
            total = time.perf_counter_ns() - started
            yield {
                "model": name,
                "created_at": now_rfc3339(),
                "message": {"role": "assistant", "content": ""},
                "done": True,
                **omit_empty(
                    {
                        "done_reason": "stop",
                        "total_duration": total,
                        "load_duration": load_ns,
                        "prompt_eval_count": len(tokens),
                        "prompt_eval_duration": max((total - load_ns) // 2, 1),
                        # Not 1 ns: a client reads eval_count / eval_duration as tokens per second.
                        "eval_count": len(said),
                        "eval_duration": max((total - load_ns) // 2, 1),
                    }
                ),
            }
        finally:
            keep_loaded(name, keep_alive, num_ctx)
            await free_runner_if_idle()

    async def run_model(
        name: str, body: dict, options: dict, num_ctx: int, chat: bool, keep_alive: float | None
    ):
        """Yields Ollama's stream objects; holds the model for the whole answer, as Ollama's scheduler
        does; then keeps it loaded for keep_alive."""
        try:
            async for event in answer(name, body, options, num_ctx, chat):
                yield event
        finally:
            keep_loaded(name, keep_alive, num_ctx)
            await free_runner_if_idle()

    async def answer(name: str, body: dict, options: dict, num_ctx: int, chat: bool):
        async with runner.lock:
            started = time.perf_counter_ns()
            load_ns = await asyncio.to_thread(runner.ensure_loaded, num_ctx)
            text = None
            if not chat and body.get("raw"):
                # raw: the prompt as it is, no template (and so no suffix either, as in Ollama).
                text = body.get("prompt") or ""
                tokens, stops = runner.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True), []
            elif not chat and body.get("suffix"):
                tokens, text = runner.fim_tokens(body.get("prompt") or "", body["suffix"])
                stops = []
            else:
                tokens, stops = runner.prompt_tokens(
                    body.get("messages") if chat else None, body.get("prompt"), body.get("system")
                )
            if not chat:
                heard.append(
                    {"model": name, "prompt": text, "suffix": body.get("suffix"), "raw": body.get("raw")}
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
            stopped = threading.Event()
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
                finally:
                    stopped.set()

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
                # Wait for the thread (at most one token) before the lock goes, blocking: a client that left
                # cancels this task, and anyio re-cancels every await, so an awaited wait ended at once and
                # the next request decoded on the same context beside it (a GGML_ASSERT crash).
                stopped.wait(60)
                if worker.done():
                    worker.result()

    async def chat(request: Request) -> Response:
        return await generate_like(request, chat=True)

    async def test_prompts(_: Request) -> Response:
        """Not Ollama's: what each /api/generate fed the model, so tests can check it at the backend."""
        return JSONResponse({"prompts": heard})

    async def generate(request: Request) -> Response:
        return await generate_like(request, chat=False)

    return Starlette(
        routes=[
            Route("/", root, methods=["GET", "HEAD"]),
            Route("/api/version", version),
            Route("/api/tags", tags),
            Route("/api/show", show, methods=["POST"]),
            Route("/api/ps", ps),
            Route("/api/pull", pull, methods=["POST"]),
            Route("/api/delete", delete, methods=["DELETE"]),
            Route("/api/copy", copy, methods=["POST"]),
            Route("/api/chat", chat, methods=["POST"]),
            Route("/api/generate", generate, methods=["POST"]),
            Route("/test/prompts", test_prompts),
        ]
    )


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--insert-model", action="append", default=[], help="an insert-capable model name")
    args = parser.parse_args()
    path = args.model or gguf.default_model_path()
    app = make_app(path, tuple(args.insert_model))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
