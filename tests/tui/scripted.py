"""A deterministic workbench for SVG snapshots: scripted models, a clock that only the script moves.

The engine is the real one (registry, selection, orchestrator, ledger, feedback); only what cannot
repeat itself is replaced: the models' words and timings (ScriptedProvider), the clocks of the modules
whose numbers reach the screen (ScriptClock), and the memory figures (a fixed reading).
Providers that are "not running" point at a closed loopback port, as on a machine without them.
"""

from __future__ import annotations

import asyncio
import time as real_time
from collections import namedtuple
from collections.abc import AsyncIterator, Sequence

from jarvis.app.config import Config
from jarvis.app.engine import build_engine
from jarvis.app.paths import resolve_paths
from jarvis.app.tui.workbench import WorkbenchApp
from jarvis.providers.base import Provider
from jarvis.providers.errors import BadResponse
from jarvis.providers.types import Completion, Delta, GenerationOptions, Message, ModelInfo, StreamChunk
from tests.tui.helpers import Told

#: 2026-11-20 09:00 UTC: where the script's wall clock starts.
EPOCH = 1_795_165_200.0
#: Port 9 (discard) is closed here; Ollama and LM Studio "are not running".
CLOSED = "http://127.0.0.1:9"
GiB = 1024**3

PLAN = "1. Take the string.\n2. Return it reversed with a slice.\n3. Add a docstring and a test."
CODE = (
    '```python\ndef reverse(text: str) -> str:\n    """Return *text* reversed."""\n'
    "    return text[::-1]\n\n\n"
    'assert reverse("abc") == "cba"\n```\n\nSlicing with a step of -1 walks the string backwards.'
)
VERDICT = "VERDICT: APPROVE\n- Correct and complete; the assert documents the behaviour."
ANSWERS = {
    "coder-7b": "A list comprehension builds the squares: `[n * n for n in range(10)]`. It reads as the "
    "definition and runs in one pass.",
    "writer-3b": "Use `map`: `list(map(lambda n: n * n, range(10)))`. It works, though most readers find the "
    "comprehension clearer.",
    "tiny-1b": "squares = []\nfor n in range(10):\n    squares.append(n * n)",
    "reasoner-14b": "`[n ** 2 for n in range(10)]` gives [0, 1, 4, 9, 16, 25, 36, 49, 64, 81].",
}


class ScriptClock:
    """Stands in for the `time` module in a few jarvis modules: moves only when the script advances it."""

    def __init__(self) -> None:
        self.now = 100.0

    def perf_counter(self) -> float:
        return self.now

    monotonic = perf_counter

    def time(self) -> float:
        return EPOCH + self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        real_time.sleep(seconds)


Memory = namedtuple("Memory", "total available percent used free")
MEMORY = Memory(64 * GiB, 48 * GiB, 25.0, 16 * GiB, 48 * GiB)


class ScriptedProvider(Provider):
    """Answers from a script at fixed timings; `gate` (when set) holds every stream halfway; a model in
    `broken` has its stream cut halfway (the words so far are kept, as a real cut stream's are)."""

    kind = "scripted"

    def __init__(self, clock: ScriptClock, name: str = "local") -> None:
        super().__init__(name)
        self.clock = clock
        self.gate: asyncio.Event | None = None
        self.broken: set[str] = set()
        self.halfway = 0  # streams currently held at the gate
        #: Answers to the code role, in order (the last one repeats); empty: CODE.
        self.code: list[str] = []

    @property
    def address(self) -> str:
        return "in-process script"

    async def list_models(self) -> list[ModelInfo]:
        sizes = {"coder-7b": 4.4, "writer-3b": 2.0, "tiny-1b": 0.7, "reasoner-14b": 8.9}
        contexts = {"coder-7b": 32768, "writer-3b": 8192, "tiny-1b": 4096, "reasoner-14b": 16384}
        caps = {
            "coder-7b": {"chat", "code", "completion"},
            "writer-3b": {"chat", "completion"},
            "tiny-1b": {"chat", "completion", "code"},
            "reasoner-14b": {"chat", "code", "reasoning"},
        }
        return [
            ModelInfo(
                provider=self.name,
                name=name,
                context_length=contexts[name],
                size_bytes=int(sizes[name] * GiB),
                capabilities=frozenset(caps[name]),
                local=True,
            )
            for name in sizes
        ]

    def answer(self, model: str, messages: Sequence[Message]) -> str:
        system = messages[0].content if messages and messages[0].role == "system" else ""
        if "You plan code" in system:
            return PLAN
        if "You review code" in system:
            return VERDICT
        if "senior software engineer" in system:
            return (self.code.pop(0) if len(self.code) > 1 else self.code[0]) if self.code else CODE
        return ANSWERS.get(model, "Here is an answer.")

    async def stream_chat(
        self, model: str, messages: Sequence[Message], options: GenerationOptions | None = None
    ) -> AsyncIterator[StreamChunk]:
        words = self.answer(model, messages).split(" ")
        pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
        self.clock.advance(0.12)
        for i, piece in enumerate(pieces):
            if i == len(pieces) // 2 and model in self.broken:
                raise BadResponse(
                    "the stream was cut", partial_text="".join(pieces[:i]), provider=self.name, model=model
                )
            if i == len(pieces) // 2 and self.gate is not None:
                self.halfway += 1
                await self.gate.wait()
            self.clock.advance(0.02)
            yield Delta(piece)
            await asyncio.sleep(0)
        yield Completion(
            provider=self.name,
            model=model,
            text="".join(pieces),
            prompt_tokens=42,
            completion_tokens=len(pieces),
            ttft_s=0.12,
            tokens_per_s=50.0,
            total_s=0.12 + 0.02 * len(pieces),
            finish_reason="stop",
        )


def scripted_app(home, monkeypatch, *, gate: bool = False) -> tuple[WorkbenchApp, ScriptedProvider]:
    """The workbench over the real engine, with scripted models and clocks; call inside a test.

    The clock, the ids and the memory figures are passed to what reads them (the engine, the app and
    the memory guard); only TZ is set, for History's local times."""
    clock = ScriptClock()
    monkeypatch.setenv("TZ", "UTC")
    real_time.tzset()
    counters: dict[str, int] = {}

    def new_id(prefix: str) -> str:  # run_1, step_1, …: ids are on screen
        counters[prefix] = counters.get(prefix, 0) + 1
        return f"{prefix}_{counters[prefix]}"

    provider = ScriptedProvider(clock)
    if gate:
        provider.gate = asyncio.Event()
    config = Config.model_validate(
        {
            "embedded": {"enabled": False},
            "ollama": {"hosts": [{"name": "ollama", "url": CLOSED}]},
            "lmstudio": {"url": CLOSED},
        }
    )
    paths = resolve_paths({"JARVIS_HOME": str(home)})

    async def factory():
        engine = build_engine(
            config, paths, clock=clock, ids=new_id, available_memory=lambda: MEMORY.available
        )
        engine.registry.add_provider(provider)
        return await engine.start()

    app = WorkbenchApp(
        factory,
        settings_path=paths.tui_settings,
        on_notify=Told(),
        stopwatch=clock.perf_counter,
        read_memory=lambda: MEMORY,
    )
    return app, provider
