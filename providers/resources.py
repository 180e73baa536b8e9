"""Resource guard: will a model fit in memory, does a prompt fit its window, may N models run at once."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from . import gguf
from .errors import ContextOverflow, OutOfMemory
from .memory_observed import Observation, ObservedMemory
from .types import ModelInfo

MiB = 1024 * 1024
GiB = 1024 * MiB
#: Memory held by a server process beyond weights, KV cache and compute buffers (Ollama's runner).
RUNTIME_OVERHEAD = 100 * MiB
#: What a `jarvis run` process holds before llama.cpp allocates anything: the interpreter, our
#: modules, llama-cpp-python and the ggml libraries (measured with bench/memory_fit.py).
IN_PROCESS_BASELINE = 100 * MiB
#: llama-cpp-python's default batch sizes: the compute graph is reserved for this many tokens.
N_UBATCH = 512
#: llama.cpp sizes the KV cache and the attended cells in steps of this many tokens.
KV_PAD = 256
#: When the GGUF header does not say (e.g. Ollama's /api/show without verbose), a large vocabulary.
DEFAULT_VOCAB = 152_064
#: ggml type ids whose 2-D weights the CPU backend repacks into a second, interleaved copy
#: (ggml-cpu/repack.cpp, ggml_repack_get_optimal_repack_type).
Q4_0, Q8_0, Q2_K, Q4_K, Q5_K, Q6_K, IQ4_NL, MXFP4 = 2, 8, 10, 12, 13, 14, 20, 39
REPACKED_AVX2 = frozenset({Q4_0, Q4_K, IQ4_NL, MXFP4})
REPACKED_ARM = frozenset({Q4_0, Q4_K, Q5_K, Q6_K, IQ4_NL, MXFP4, Q8_0})


def gib(n: float) -> str:
    return f"{n / GiB:.1f} GiB" if n >= GiB else f"{n / MiB:.0f} MiB"


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int
    kv_cache: int
    compute: int
    runtime: int
    total: int
    #: True when layer geometry was unknown and the KV cache was guessed from the file size.
    rough: bool
    #: The second copy llama.cpp's CPU backend makes of weights it repacks (Q4_K, Q4_0 on AVX2).
    repacked: int = 0
    #: Where ``total`` comes from: "formula", "ollama" (its /api/ps size for this model and context),
    #: or "learned" (the formula times the ratio Ollama's sizes taught for this model or family).
    basis: str = "formula"


@dataclass(frozen=True)
class Admission:
    fits: bool | None  # None: the model runs on another machine, its memory is not ours to judge
    needed: int
    available: int
    sentence: str
    suggested_num_ctx: int | None = None


@dataclass(frozen=True)
class ParallelPlan:
    concurrent: bool
    reason: str


def cgroup_available() -> int | None:
    """Memory left under a cgroup v2 limit; psutil reports the host's (psutil #2100)."""
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text().strip()
        if limit == "max":
            return None
        used = int((root / "memory.current").read_text().strip())
        return max(int(limit) - used, 0)
    except (OSError, ValueError):
        return None


def system_available() -> int:
    import psutil

    avail = int(psutil.virtual_memory().available)
    limited = cgroup_available()
    return min(avail, limited) if limited is not None else avail


def kv_cache_bytes(geometry: dict[str, int], n_ctx: int, bytes_per_element: int = 2) -> int | None:
    """n_ctx × layers × (k + v width) × f16, the formula llama.cpp's own log agrees with."""
    layers = geometry.get("block_count")
    embd = geometry.get("embedding_length")
    heads = geometry.get("attention.head_count")
    if not (layers and embd and heads):
        return None
    kv_heads = geometry.get("attention.head_count_kv") or heads
    k_len = geometry.get("attention.key_length") or embd // heads
    v_len = geometry.get("attention.value_length") or embd // heads
    return n_ctx * layers * kv_heads * (k_len + v_len) * bytes_per_element


def _pad(n: int, step: int) -> int:
    return -(-n // step) * step


def compute_bytes(geometry: dict[str, int], n_ctx: int, tokens: int | None = None) -> int:
    """The part of llama.cpp's compute buffer a run touches (bytes), without flash attention.

    llama.cpp reserves the buffer for its worst graph (logits for all 512 batch tokens:
    n_vocab x 512 x 4 B, ~300 MiB for Qwen's 151,936-token vocabulary) but allocates it with
    malloc, so only the pages a graph writes become resident. llama-cpp-python asks for the
    logits of the last token alone, so the graph that writes most is attention: per batch of
    up to 512 tokens, the f32 scores against every attended cell (n_head + 1 for the mask),
    next to the feed-forward and hidden-state activations; and the CPU backend's work buffer,
    which holds those scores again as f16 to multiply them with the f16 V cache. ``tokens`` is
    how much of the window the run fills; None means all of it.
    """
    used = min(tokens, n_ctx) if tokens else n_ctx
    batch = min(N_UBATCH, used)
    n_kv = min(_pad(used, KV_PAD), _pad(n_ctx, KV_PAD))
    heads = geometry.get("attention.head_count") or 32
    embd = geometry.get("embedding_length") or 4096
    ff = geometry.get("feed_forward_length") or 4 * embd
    vocab = geometry.get("vocab_size") or DEFAULT_VOCAB
    f32, f16 = 4, 2
    attention = n_kv * batch * (heads + 1) * f32 + n_kv * batch * heads * f16
    activations = (2 * ff + 3 * embd) * batch * f32
    return attention + activations + vocab * f32


def weight_layout(path: str | Path, repacked_types: frozenset[int]) -> tuple[int, int]:
    """(bytes mmap makes resident, bytes the CPU backend copies when repacking) for a GGUF file.

    llama.cpp maps the file with MAP_POPULATE, and reads each repacked tensor through that
    map into a new buffer, so both copies stay resident. The token embedding is read by row
    lookups, never repacked.
    """
    tensors: list[gguf.TensorInfo] = []
    gguf.read_metadata(path, tensors)
    mapped = sum(t.nbytes for t in tensors)
    repacked = sum(
        t.nbytes
        for t in tensors
        if t.ggml_type in repacked_types
        and len(t.dims) == 2
        and t.dims[1] % 8 == 0
        and t.name != "token_embd.weight"
    )
    return mapped, repacked


def cpu_repacked_types(machine: str | None = None, cpuinfo: str | None = None) -> frozenset[int]:
    """The weight types ggml's CPU backend repacks on this processor (read from /proc/cpuinfo)."""
    machine = (machine or platform.machine()).lower()
    if machine in ("arm64", "aarch64"):
        return REPACKED_ARM
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            # No flags to read (macOS, Windows): assume a current x86 CPU, which has AVX2.
            return REPACKED_AVX2
    flags = set(cpuinfo.split())
    if "avx2" not in flags:
        return frozenset()
    return REPACKED_AVX2 | ({Q2_K} if "avx512f" in flags else set())


class ResourceGuard:
    """Judges memory and context fit; ``available`` is injectable so tests can pin the machine's state."""

    def __init__(
        self,
        *,
        reserve_bytes: int = 1 * GiB,
        margin: float = 0.05,
        available: Callable[[], int] = system_available,
        cores: int | None = None,
        repacked_types: Callable[[], frozenset[int]] = cpu_repacked_types,
        observed: ObservedMemory | None = None,
    ) -> None:
        self.reserve_bytes = reserve_bytes
        self.margin = margin
        self._available = available
        self.cores = cores or os.cpu_count() or 1
        self._repacked_types = repacked_types
        self._layouts: dict[tuple[str, float], tuple[int, int]] = {}
        self.observed = observed

    def available_bytes(self) -> int:
        return max(self._available() - self.reserve_bytes, 0)

    def estimate(self, info: ModelInfo, n_ctx: int, *, tokens: int | None = None) -> MemoryEstimate:
        """Peak resident memory of ``info`` loaded with an ``n_ctx`` window, plus the margin.

        ``tokens``: how much of the window the run fills (prompt + answer); None, the default,
        is the worst case, a full window, which is what admission must assume. For a model
        Ollama has loaded before, its own figure (or the ratio it taught) replaces the formula.
        """
        return self._corrected(info, n_ctx, self.formula(info, n_ctx, tokens=tokens))

    def formula(self, info: ModelInfo, n_ctx: int, *, tokens: int | None = None) -> MemoryEstimate:
        """The estimate from the model's file and geometry alone, before anything Ollama taught."""
        weights, repacked = self._weights(info)
        kv = kv_cache_bytes(info.geometry, _pad(n_ctx, KV_PAD))
        rough = kv is None
        if kv is None:
            # Unknown geometry: a 7B Q4 model (~4.4 GB) needs ~0.5 GiB of KV at 4k.
            kv = int(weights * n_ctx / 32768) if weights else 0
        compute = compute_bytes(info.geometry, n_ctx, tokens)
        runtime = IN_PROCESS_BASELINE if info.path else RUNTIME_OVERHEAD
        subtotal = weights + repacked + kv + compute + runtime
        total = int(subtotal * (1 + self.margin))
        return MemoryEstimate(weights, kv, compute, runtime, total, rough or not weights, repacked)

    def _corrected(self, info: ModelInfo, n_ctx: int, est: MemoryEstimate) -> MemoryEstimate:
        """Ollama's own size once it loaded the model; else the ratio it taught for the model or family."""
        if self.observed is None or info.path or not info.local:
            return est  # in-process models are measured by the formula itself (bench/memory_fit.py)
        actual = self.observed.actual(info.id, n_ctx)
        if actual:
            return replace(est, total=actual, rough=False, basis="ollama")
        ratio = self.observed.model_ratio(info.id) or self.observed.family_ratio(info.family)
        if ratio:
            return replace(est, total=int(est.total * ratio), basis="learned")
        return est

    def observe(self, info: ModelInfo, n_ctx: int, actual: int) -> None:
        """Learn from a loaded model's real size (Ollama's /api/ps ``size`` at ``n_ctx``)."""
        if self.observed is None or actual <= 0:
            return
        estimate = self.formula(info, n_ctx).total
        self.observed.record(Observation(info.id, info.family, n_ctx, estimate, actual))

    def _weights(self, info: ModelInfo) -> tuple[int, int]:
        """(resident weights, repacked copy); the copy only for in-process GGUF files we can read."""
        size = info.size_bytes or 0
        if not info.path:
            return size, 0
        try:
            key = (info.path, Path(info.path).stat().st_mtime)
        except OSError:
            return size, 0
        if key not in self._layouts:
            try:
                self._layouts[key] = weight_layout(info.path, self._repacked_types())
            except gguf.GGUFError:
                self._layouts[key] = (size, 0)
        return self._layouts[key]

    def check_memory(self, info: ModelInfo, n_ctx: int) -> Admission:
        avail = self.available_bytes()
        if not info.local:
            return Admission(None, 0, avail, f"{info.id} runs on {info.provider}'s own machine.")
        if info.loaded:
            return Admission(True, 0, avail, f"{info.id} is already loaded.")
        est = self.estimate(info, n_ctx)
        rough = " (rough estimate)" if est.rough else ""
        if est.total <= avail:
            return Admission(
                True,
                est.total,
                avail,
                f"{info.id} needs about {gib(est.total)}{rough}; {gib(avail)} is free.",
            )
        smaller = self._largest_fitting_ctx(info, n_ctx, avail)
        advice = (
            f" It would fit with num_ctx {smaller}."
            if smaller
            else " Close other programs or models, or pick a smaller model or quantisation."
        )
        return Admission(
            False,
            est.total,
            avail,
            f"{info.id} needs about {gib(est.total)}{rough} at a {n_ctx}-token context"
            f" (weights {gib(est.weights)}, KV cache {gib(est.kv_cache)}) but only {gib(avail)} is free"
            f" after keeping {gib(self.reserve_bytes)} in reserve.{advice}",
            smaller,
        )

    def _largest_fitting_ctx(self, info: ModelInfo, n_ctx: int, avail: int) -> int | None:
        ctx = n_ctx // 2
        while ctx >= 512:
            if self.estimate(info, ctx).total <= avail:
                return ctx
            ctx //= 2
        return None

    def admit(self, info: ModelInfo, n_ctx: int) -> Admission:
        """Raise OutOfMemory with the numbers when the model will not fit."""
        admission = self.check_memory(info, n_ctx)
        if admission.fits is False:
            raise OutOfMemory(admission.sentence, provider=info.provider, model=info.name)
        return admission

    @staticmethod
    def check_context(
        info: ModelInfo, prompt_tokens: int, max_tokens: int | None, window: int | None = None
    ) -> None:
        """Raise ContextOverflow when prompt + max_tokens exceed the window."""
        window = window or info.context_length
        if not window:
            return
        needed = prompt_tokens + (max_tokens or 0)
        if needed > window:
            room = window - prompt_tokens
            advice = (
                f"Lower max_tokens to {room} or less, or shorten the prompt."
                if room > 0
                else "Shorten the prompt or pick a model with a larger context window."
            )
            raise ContextOverflow(
                f"The prompt ({prompt_tokens} tokens) plus up to {max_tokens or 0} answer tokens needs"
                f" {needed} tokens, but {info.id} has a {window}-token context window.",
                hint=advice,
                needed=needed,
                window=window,
                provider=info.provider,
                model=info.name,
            )

    def plan_parallel(
        self, models: Sequence[tuple[ModelInfo, int]], in_process: Sequence[bool] = ()
    ) -> ParallelPlan:
        """May these (model, n_ctx) run at the same time on this machine?

        Memory: every local, not-yet-loaded model must fit together. Cores:
        in-process (embedded) models each want every core; two of them at once
        on a small machine halve each other's tokens/s and make a comparison unfair.
        """
        if len(models) <= 1:
            return ParallelPlan(True, "One model runs alone.")
        need = sum(self.estimate(i, c).total for i, c in models if i.local and not i.loaded)
        avail = self.available_bytes()
        if need > avail:
            return ParallelPlan(
                False,
                f"Together these models need about {gib(need)} but {gib(avail)} is free,"
                " so they run one after another.",
            )
        embedded = sum(1 for flag in in_process if flag)
        if embedded > 1 and self.cores < 4 * embedded:
            return ParallelPlan(
                False,
                f"{embedded} in-process models would share {self.cores} CPU cores and slow each other down,"
                " so they run one after another for honest timings.",
            )
        distinct = {i.id for i, _ in models}
        if len(distinct) < len(models):
            return ParallelPlan(False, "The same model appears twice; a model answers one request at a time.")
        return ParallelPlan(True, f"They fit together ({gib(need)} needed, {gib(avail)} free).")
