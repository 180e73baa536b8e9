"""Memory before action: will a model fit beside what is loaded now, and what to unload if not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from .resources import ResourceGuard, gib
from .types import ModelInfo


@dataclass(frozen=True)
class LoadedModel:
    """A model holding memory now (from Ollama's /api/ps, LM Studio, or the embedded provider)."""

    id: str
    size_bytes: int
    #: The user pinned it: never suggested for unloading.
    pinned: bool = False


@dataclass(frozen=True)
class FitReport:
    """The answer a pull or load shows before it starts; ``sentence`` is ready to print."""

    model_id: str
    needed: int
    free: int
    fits: bool
    #: Loaded models whose unloading makes room (empty when it fits, or when nothing would help).
    unload: tuple[LoadedModel, ...]
    #: Bytes those unloads free.
    frees: int
    sentence: str
    #: Where ``needed`` comes from: "formula", "ollama" (its own size for the model) or "learned".
    basis: str = "formula"

    @property
    def fits_after_unload(self) -> bool:
        return not self.fits and bool(self.unload) and self.free + self.frees >= self.needed

    def as_json(self) -> dict[str, object]:
        return {
            "model": self.model_id,
            "needed_bytes": self.needed,
            "free_bytes": self.free,
            "fits": self.fits,
            "fits_after_unload": self.fits_after_unload,
            "unload": [m.id for m in self.unload],
            "frees_bytes": self.frees,
            "sentence": self.sentence,
            "basis": self.basis,
        }


def _short(model_id: str) -> str:
    # A sentence reads "qwen2.5-coder:7b", not "ollama/qwen2.5-coder:7b"; the id is in the JSON.
    return model_id.split("/", 1)[1] if "/" in model_id else model_id


def choose_unloads(missing: int, loaded: Sequence[LoadedModel]) -> tuple[LoadedModel, ...]:
    """The fewest loaded models that free ``missing`` bytes, preferring to evict the smallest that suffices.

    One model that frees enough is better than two; among those, the smallest keeps most of the
    user's work loaded. When no single one suffices, evict the largest first. Empty when even
    every unpinned model together is not enough.
    """
    candidates = [m for m in loaded if not m.pinned and m.size_bytes > 0]
    single = sorted((m for m in candidates if m.size_bytes >= missing), key=lambda m: m.size_bytes)
    if single:
        return (single[0],)
    chosen: list[LoadedModel] = []
    freed = 0
    for m in sorted(candidates, key=lambda m: m.size_bytes, reverse=True):
        chosen.append(m)
        freed += m.size_bytes
        if freed >= missing:
            return tuple(chosen)
    return ()


def fit_sentence(model_id: str, needed: int, free: int, loaded: Sequence[LoadedModel] = ()) -> FitReport:
    """Does a model needing ``needed`` bytes fit in ``free`` bytes, and if not, what to unload.

    ``free`` is memory available now, so the ``loaded`` models are already subtracted from it;
    unloading one gives back its size.
    E.g. "qwen2.5-coder:7b needs 5.6 GiB; 3.1 GiB free; unloading llama3.2:3b frees 2.9 GiB."
    """
    name = _short(model_id)
    head = f"{name} needs {gib(needed)}; {gib(free)} free"
    others = [m for m in loaded if m.id != model_id]
    if needed <= free:
        return FitReport(model_id, needed, free, True, (), 0, f"{head}: it fits.")
    unload = choose_unloads(needed - free, others)
    if unload:
        frees = sum(m.size_bytes for m in unload)
        names = " and ".join(_short(m.id) for m in unload)
        return FitReport(
            model_id, needed, free, False, unload, frees, f"{head}; unloading {names} frees {gib(frees)}."
        )
    movable = sum(m.size_bytes for m in others if not m.pinned)
    if movable:
        advice = f"unloading every unpinned model frees only {gib(movable)}"
    else:
        advice = "no loaded model can be unloaded to make room"
    return FitReport(
        model_id,
        needed,
        free,
        False,
        (),
        0,
        f"{head}; {advice}. Pick a smaller model or quantisation, a smaller num_ctx,"
        " or close other programs.",
    )


def check_fit(
    guard: ResourceGuard, info: ModelInfo, n_ctx: int, loaded: Sequence[LoadedModel] = ()
) -> FitReport:
    """``fit_sentence`` with the guard's estimate for ``info`` at ``n_ctx`` and the guard's free memory.

    A model already loaded needs nothing more; a remote model's memory is not ours to judge
    (both report ``fits`` True with ``needed`` 0).
    """
    free = guard.available_bytes()
    if not info.local:
        return FitReport(info.id, 0, free, True, (), 0, f"{info.name} runs on {info.provider}'s own machine.")
    if info.loaded or any(m.id == info.id for m in loaded):
        return FitReport(info.id, 0, free, True, (), 0, f"{info.name} is already loaded.")
    est = guard.estimate(info, n_ctx)
    return replace(fit_sentence(info.id, est.total, free, loaded), basis=est.basis)
