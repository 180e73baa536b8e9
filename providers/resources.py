"""Resource guard: will a model fit in memory, does a prompt fit its window, may N models run at once."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import ContextOverflow, OutOfMemory
from .types import ModelInfo

MiB = 1024 * 1024
GiB = 1024 * MiB
#: llama.cpp's own allocations beyond weights, KV cache and compute buffers.
RUNTIME_OVERHEAD = 100 * MiB
#: The compute buffer grows with the context: 166 MiB at n_ctx 8192 for SmolLM2-135M.
COMPUTE_BYTES_PER_CTX_TOKEN = 20 * 1024
MIN_COMPUTE = 48 * MiB


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


class ResourceGuard:
    """Judges memory and context fit; ``available`` is injectable so tests can pin the machine's state."""

    def __init__(
        self,
        *,
        reserve_bytes: int = 1 * GiB,
        margin: float = 0.10,
        available: Callable[[], int] = system_available,
        cores: int | None = None,
    ) -> None:
        self.reserve_bytes = reserve_bytes
        self.margin = margin
        self._available = available
        self.cores = cores or os.cpu_count() or 1

    def available_bytes(self) -> int:
        return max(self._available() - self.reserve_bytes, 0)

    def estimate(self, info: ModelInfo, n_ctx: int) -> MemoryEstimate:
        weights = info.size_bytes or 0
        kv = kv_cache_bytes(info.geometry, n_ctx)
        rough = kv is None
        if kv is None:
            # Unknown geometry: a 7B Q4 model (~4.4 GB) needs ~0.5 GiB of KV at 4k.
            kv = int(weights * n_ctx / 32768) if weights else 0
        compute = max(MIN_COMPUTE, n_ctx * COMPUTE_BYTES_PER_CTX_TOKEN)
        subtotal = weights + kv + compute + RUNTIME_OVERHEAD
        total = int(subtotal * (1 + self.margin))
        return MemoryEstimate(weights, kv, compute, RUNTIME_OVERHEAD, total, rough or not weights)

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
