"""What Ollama said its loaded models hold (/api/ps `size`), kept per model, and the correction it teaches.

Ollama's own number is the truth for its models: once a model has been loaded, its size at that
context replaces our estimate. Models of the same family that were never loaded get our estimate
times the family's learned ratio (median of actual / estimate), so a family Ollama packs more
tightly or loosely than our formula is judged right before its first load.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Observation:
    """One model as Ollama reported it while loaded."""

    model_id: str
    family: str | None
    n_ctx: int | None
    #: Our estimate for the same model and context, before any learned correction.
    estimate: int
    #: /api/ps `size`: what Ollama says the loaded model holds (RAM and VRAM together).
    actual: int

    @property
    def ratio(self) -> float:
        return self.actual / self.estimate if self.estimate > 0 else 1.0


class ObservedMemory:
    """Observations by model and context, in a JSON file (None: kept in memory only, for tests).

    The file is read on first use and rewritten on each new observation; a missing or damaged
    file is the same as an empty one (it is a cache: the next /api/ps refills it).
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._by_key: dict[tuple[str, int | None], Observation] | None = None

    def _all(self) -> dict[tuple[str, int | None], Observation]:
        if self._by_key is None:
            self._by_key = {}
            if self.path is not None:
                try:
                    rows = json.loads(self.path.read_text(encoding="utf-8"))
                    for row in rows:
                        obs = Observation(**row)
                        self._by_key[(obs.model_id, obs.n_ctx)] = obs
                except (OSError, ValueError, TypeError):
                    self._by_key = {}
        return self._by_key

    def record(self, obs: Observation) -> None:
        known = self._all()
        if known.get((obs.model_id, obs.n_ctx)) == obs:
            return  # the Models view refreshes /api/ps every few seconds: no rewrite for the same numbers
        known[(obs.model_id, obs.n_ctx)] = obs
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps([asdict(o) for o in known.values()], indent=1), encoding="utf-8")
                tmp.replace(self.path)
            except OSError:
                pass  # a cache that cannot be written costs accuracy later, never the action now

    def actual(self, model_id: str, n_ctx: int | None) -> int | None:
        """The size Ollama reported for this model at this context, if it was ever loaded so."""
        obs = self._all().get((model_id, n_ctx))
        return obs.actual if obs else None

    def model_ratio(self, model_id: str) -> float | None:
        """actual / estimate for this model at any context it was seen at (the latest kept per context)."""
        ratios = [o.ratio for (mid, _), o in self._all().items() if mid == model_id]
        return statistics.median(ratios) if ratios else None

    def family_ratio(self, family: str | None) -> float | None:
        """Median actual / estimate over the family's observed models; None before any was seen."""
        if not family:
            return None
        ratios = [o.ratio for o in self._all().values() if o.family == family]
        return statistics.median(ratios) if ratios else None
