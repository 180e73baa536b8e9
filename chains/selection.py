"""SelectionEngine: hard filters, then a score under a strategy, per request and per chain role."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from jarvis.providers.registry import ModelEntry

from .policies import Policy, matching_policy

STRATEGIES = ("performance", "quality", "cost", "reliability", "balanced")
DEFAULT_WEIGHTS = {"quality": 0.4, "performance": 0.25, "reliability": 0.25, "cost": 0.1}
#: Capabilities a model must really have; others (planning, reasoning) are preferences.
HARD_CAPABILITIES = frozenset({"function_calling", "vision", "embeddings"})


@dataclass(frozen=True)
class ModelStats:
    """What the ledger has measured for one model on one task type."""

    requests: int = 0
    successes: int = 0
    ttft_p50: float | None = None
    tokens_per_s_p50: float | None = None
    latency_p50: float | None = None
    rating_mean: float | None = None  # already shrunk toward the prior
    ratings: int = 0
    strength: float | None = None  # pairwise (Bradley-Terry) score in [0, 1]
    votes: int = 0

    @property
    def samples(self) -> int:
        return self.requests + self.ratings + self.votes


@dataclass
class Selection:
    model: ModelEntry
    fallbacks: list[ModelEntry]
    reason: str
    strategy: str
    score: float
    est_cost_usd: float
    est_latency_s: float | None
    parts: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {"model": self.model.id, "fallbacks": [f.id for f in self.fallbacks], "reason": self.reason,
                "strategy": self.strategy, "score": round(self.score, 4), "est_cost_usd": self.est_cost_usd,
                "est_latency_s": self.est_latency_s, "parts": {k: round(v, 4) for k, v in self.parts.items()}}


class NoModelAvailable(Exception):
    """Nothing passes the hard filters; the message says which filter removed what."""


@dataclass
class Request:
    task_type: str
    language: str | None = None
    role: str | None = None
    capabilities: tuple[str, ...] = ()
    prompt_tokens: int = 0
    max_tokens: int = 512
    strategy: str | None = None
    explicit: str | None = None
    exclude: frozenset[str] = frozenset()
    #: Only models whose window is at least this (after a context overflow).
    min_context: int = 0


class SelectionEngine:
    """Pure and fast (500 models well under 1 ms); everything it needs is passed in.

    ``allow_cloud()`` says whether cloud fallbacks are enabled and within budget;
    ``cooling(model_id)`` says whether the circuit breaker has the model cooling down.
    """

    def __init__(
        self,
        models: Callable[[], Iterable[ModelEntry]],
        *,
        weights: Mapping[str, float] | None = None,
        policies: list[Policy] | None = None,
        allow_cloud: Callable[[], bool] = lambda: False,
        cooling: Callable[[str], bool] = lambda model_id: False,
        exploration: float = 0.15,
        default_strategy: str = "balanced",
    ) -> None:
        self._models = models
        self.weights = dict(weights or DEFAULT_WEIGHTS)
        self.policies = list(policies or [])
        self.allow_cloud = allow_cloud
        self.cooling = cooling
        self.exploration = exploration
        self.default_strategy = default_strategy

    # -- filters ---------------------------------------------------------
    def _rejection(self, m: ModelEntry, req: Request, cloud_ok: bool) -> str | None:
        if m.id in req.exclude:
            return "already failed"
        if m.status != "available":
            return m.status
        if "chat" not in m.capabilities:
            return "not a chat model"
        missing = HARD_CAPABILITIES.intersection(req.capabilities) - m.capabilities
        if missing:
            return "lacks " + ", ".join(sorted(missing))
        window = m.context_length or 0
        need = max(req.prompt_tokens + req.max_tokens, req.min_context)
        if window and need > window:
            return f"context {window} < {need} tokens needed"
        if m.fits_memory is False:
            return "does not fit in memory now"
        if m.provider_kind == "cloud" and not cloud_ok:
            return "cloud disabled or over budget"
        if self.cooling(m.id):
            return "cooling down after failures"
        return None

    # -- scoring ---------------------------------------------------------
    def _parts(self, m: ModelEntry, s: ModelStats | None, req: Request, total_samples: int) -> dict[str, float]:
        s = s or ModelStats()
        # Performance: tokens/s (log-scaled, 100 tok/s ≈ 1) and first-token latency (lower is better).
        tps = math.log10(1 + s.tokens_per_s_p50) / 2 if s.tokens_per_s_p50 else 0.5
        ttft = 1 / (1 + 2 * s.ttft_p50) if s.ttft_p50 is not None else 0.5
        performance = min(1.0, 0.6 * tps + 0.4 * ttft)
        # Quality: ratings (1-5) and pairwise strength for this task type; unknown = middling.
        signals = []
        if s.rating_mean is not None:
            signals.append(((s.rating_mean - 1) / 4, s.ratings))
        if s.strength is not None:
            signals.append((s.strength, s.votes))
        if signals:
            weight = sum(n for _, n in signals) or 1
            quality = sum(v * n for v, n in signals) / weight
        else:
            quality = 0.5
        if "code" in req.capabilities and "code" in m.capabilities:
            quality += 0.05
        reliability = (s.successes + 1) / (s.requests + 2)  # Laplace: unknown = 0.5
        price = m.cost_in_per_1k + m.cost_out_per_1k
        cost = 1.0 if price == 0 else 1 / (1 + 100 * price)
        # Few samples earn a bounded bonus (UCB-style): explored, not handed the job.
        explore = self.exploration * math.sqrt(math.log(total_samples + 2) / (s.samples + 1)) / 3
        return {"quality": min(quality, 1.0), "performance": performance, "reliability": reliability,
                "cost": cost, "explore": min(explore, self.exploration)}

    def _score(self, parts: dict[str, float], strategy: str) -> float:
        if strategy == "balanced":
            base = sum(self.weights.get(k, 0) * parts[k] for k in ("quality", "performance", "reliability", "cost"))
            base /= sum(self.weights.get(k, 0) for k in ("quality", "performance", "reliability", "cost")) or 1
        else:
            base = parts[strategy]
        return base + parts["explore"]

    # -- selection -------------------------------------------------------
    def select(self, req: Request, stats: Mapping[str, ModelStats] | None = None) -> Selection:
        stats = stats or {}
        cloud_ok = self.allow_cloud()
        models = list(self._models())
        policy: Policy | None = matching_policy(self.policies, req.task_type, req.language, req.role)
        strategy = req.strategy or (policy.strategy if policy and policy.strategy else None) or self.default_strategy
        if strategy not in STRATEGIES:
            raise ValueError(f"Unknown strategy '{strategy}'. Choose one of: {', '.join(STRATEGIES)}.")
        rejected: dict[str, str] = {}
        ok: list[ModelEntry] = []
        for m in models:
            why = self._rejection(m, req, cloud_ok)
            if why is None:
                ok.append(m)
            else:
                rejected[m.id] = why
        total = sum(s.samples for s in stats.values())
        scored = []
        for m in ok:
            parts = self._parts(m, stats.get(m.id), req, total)
            scored.append((self._score(parts, strategy), m, parts))
        scored.sort(key=lambda t: (-t[0], t[1].id))
        note = ""
        if req.explicit:
            chosen = next((t for t in scored if t[1].id == req.explicit), None)
            if chosen is None:
                why = rejected.get(req.explicit, "not a known model (see `jarvis models`)")
                raise NoModelAvailable(f"The requested model {req.explicit} cannot be used: {why}.")
            note = "requested explicitly"
        elif policy is not None and policy.prefer:
            chosen = next((t for p in policy.prefer for t in scored if t[1].id == p), None)
            if chosen is not None:
                note = f"routing policy '{policy.name}'"
            elif scored:
                chosen = scored[0]
                unusable = "; ".join(f"{p}: {rejected.get(p, 'unknown')}" for p in policy.prefer)
                note = f"policy '{policy.name}' prefers {unusable}, so"
        else:
            chosen = scored[0] if scored else None
        if chosen is None:
            summary = "; ".join(f"{mid}: {why}" for mid, why in list(rejected.items())[:6]) or "no models are known"
            raise NoModelAvailable(f"No model can take this {req.role or 'request'} ({summary}).")
        score, model, parts = chosen
        fallbacks = self._fallbacks(model, scored, policy)
        s = stats.get(model.id) or ModelStats()
        reason = self._reason(model, strategy, parts, s, note)
        est_latency = None
        if s.tokens_per_s_p50:
            est_latency = (s.ttft_p50 or 0) + req.max_tokens / s.tokens_per_s_p50
        est_cost = (req.prompt_tokens * model.cost_in_per_1k + req.max_tokens * model.cost_out_per_1k) / 1000
        return Selection(model, fallbacks, reason, strategy, score, est_cost, est_latency, parts)

    @staticmethod
    def _fallbacks(chosen: ModelEntry, scored, policy: Policy | None, count: int = 3) -> list[ModelEntry]:
        rest = [t for t in scored if t[1].id != chosen.id]
        named = []
        if policy is not None:
            named = [t[1] for p in policy.fallbacks for t in rest if t[1].id == p]
        # Prefer other providers: a dead server takes all its models down with it.
        others = sorted(rest, key=lambda t: (t[1].provider == chosen.provider, -t[0]))
        out: list[ModelEntry] = []
        for m in named + [t[1] for t in others]:
            if m not in out:
                out.append(m)
        return out[:count]

    @staticmethod
    def _reason(m: ModelEntry, strategy: str, parts: dict[str, float], s: ModelStats, note: str) -> str:
        facts = []
        if s.ratings or s.votes:
            facts.append(f"quality {parts['quality']:.2f} from {s.ratings} ratings/{s.votes} votes")
        if s.tokens_per_s_p50:
            facts.append(f"{s.tokens_per_s_p50:.0f} tok/s")
        if s.requests:
            facts.append(f"{s.successes}/{s.requests} ok")
        else:
            facts.append("no history yet")
        facts.append("free" if m.cost_in_per_1k + m.cost_out_per_1k == 0 else "paid")
        lead = f"{note} " if note else ""
        return f"{lead}best {strategy} score for {m.id} ({', '.join(facts)})".strip()
