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


_NO_STATS = ModelStats()


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
        any_cooling: Callable[[], bool] = lambda: True,
        exploration: float = 0.15,
        default_strategy: str = "balanced",
    ) -> None:
        self._models = models
        self.weights = dict(weights or DEFAULT_WEIGHTS)
        self.policies = list(policies or [])
        self.allow_cloud = allow_cloud
        self.cooling = cooling
        #: Cheap "is anything cooling at all?", so the per-model check is skipped when nothing is.
        self.any_cooling = any_cooling
        self.exploration = exploration
        self.default_strategy = default_strategy
        self._memo_for: object = None
        self._memo: dict[str, tuple] = {}
        self._static_for: object = None
        self._static: list[tuple] = []

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
    @staticmethod
    def _base(m: ModelEntry, s: ModelStats | None) -> tuple[float, float, float, float, int]:
        """(quality, performance, reliability, cost, samples) from measurements; request-independent."""
        s = s or _NO_STATS
        tps = math.log10(1 + s.tokens_per_s_p50) / 2 if s.tokens_per_s_p50 else 0.5  # 100 tok/s ≈ 1
        ttft = 1 / (1 + 2 * s.ttft_p50) if s.ttft_p50 is not None else 0.5
        performance = min(1.0, 0.6 * tps + 0.4 * ttft)
        # Quality: ratings (1-5) and pairwise strength for this task type, weighted by their counts.
        n_r = s.ratings if s.rating_mean is not None else 0
        n_v = s.votes if s.strength is not None else 0
        if n_r or n_v:
            quality = ((((s.rating_mean or 1) - 1) / 4) * n_r + (s.strength or 0) * n_v) / (n_r + n_v)
        elif s.rating_mean is not None or s.strength is not None:
            quality = ((s.rating_mean - 1) / 4) if s.rating_mean is not None else s.strength
        else:
            quality = 0.5  # unknown: middling
        reliability = (s.successes + 1) / (s.requests + 2)  # Laplace: unknown = 0.5
        price = m.cost_in_per_1k + m.cost_out_per_1k
        cost = 1.0 if price == 0 else 1 / (1 + 100 * price)
        return quality, performance, reliability, cost, s.samples

    def _parts(self, m: ModelEntry, s: ModelStats | None, req: Request, total_samples: int) -> dict[str, float]:
        quality, performance, reliability, cost, samples = self._base(m, s)
        if "code" in req.capabilities and "code" in m.capabilities:
            quality += 0.05
        # Few samples earn a bounded bonus (UCB-style): explored, not handed the job.
        explore = self.exploration * math.sqrt(math.log(total_samples + 2) / (samples + 1)) / 3
        return {"quality": min(quality, 1.0), "performance": performance, "reliability": reliability,
                "cost": cost, "explore": min(explore, self.exploration)}

    def _norm_weights(self) -> dict[str, float]:
        keys = ("quality", "performance", "reliability", "cost")
        total = sum(self.weights.get(k, 0) for k in keys) or 1
        return {k: self.weights.get(k, 0) / total for k in keys}

    def _memo_base(self, stats: Mapping[str, ModelStats]) -> tuple[dict[str, tuple], int]:
        # The orchestrator passes the same snapshot object until scores change: reuse the work.
        if self._memo_for is not stats:
            self._memo_for, self._memo = stats, {}
            self._memo_total = sum(s.samples for s in stats.values())
        return self._memo, self._memo_total

    def _static_candidates(self, models: list[ModelEntry]) -> list[tuple]:
        """Models that pass the request-independent filters, once per registry snapshot."""
        key = (len(models), id(models[0]) if models else 0, id(models[-1]) if models else 0)
        if self._static_for != key:
            self._static_for = key
            self._static = [(m, m.info.id, m.context_length, m.capabilities, m.provider_kind == "cloud")
                            for m in models if m.status == "available" and "chat" in m.capabilities
                            and m.fits_memory is not False]
        return self._static

    # -- selection -------------------------------------------------------
    def select(self, req: Request, stats: Mapping[str, ModelStats] | None = None) -> Selection:
        stats = stats if stats is not None else {}
        cloud_ok = self.allow_cloud()
        models = list(self._models())
        policy: Policy | None = matching_policy(self.policies, req.task_type, req.language, req.role)
        strategy = req.strategy or (policy.strategy if policy and policy.strategy else None) or self.default_strategy
        if strategy not in STRATEGIES:
            raise ValueError(f"Unknown strategy '{strategy}'. Choose one of: {', '.join(STRATEGIES)}.")
        # Hot loop over every model: plain locals, reasons only computed if an error needs them.
        need = max(req.prompt_tokens + req.max_tokens, req.min_context)
        hard = HARD_CAPABILITIES.intersection(req.capabilities)
        exclude = req.exclude
        cooling = self.cooling if self.any_cooling() else None
        code_bonus = 0.05 if "code" in req.capabilities else 0.0
        memo, total = self._memo_base(stats)
        explore_k = self.exploration * math.sqrt(math.log(total + 2)) / 3
        w = self._norm_weights()
        wq, wp, wr, wc = w["quality"], w["performance"], w["reliability"], w["cost"]
        pick = ("quality", "performance", "reliability", "cost").index(strategy) if strategy != "balanced" else -1
        scored: list[tuple[float, ModelEntry]] = []
        passed: set[str] = set()
        for m, mid, window, caps, is_cloud in self._static_candidates(models):
            if ((window and need > window) or (is_cloud and not cloud_ok) or (exclude and mid in exclude)
                    or (hard and not hard <= caps) or (cooling is not None and cooling(mid))):
                continue
            base = memo.get(mid)
            if base is None:
                base = memo[mid] = self._base(m, stats.get(mid))
            q, p, r, c, samples = base
            if code_bonus and "code" in caps:
                q = min(q + code_bonus, 1.0)
            explore = min(explore_k / math.sqrt(samples + 1), self.exploration)
            score = (wq * q + wp * p + wr * r + wc * c) if pick < 0 else (q, p, r, c)[pick]
            scored.append((score + explore, m))
            passed.add(mid)
        # Stable sort on the score alone: ties keep the registry's (provider, name) order.
        scored.sort(key=lambda t: t[0], reverse=True)

        def why(mid: str) -> str:
            m = next((x for x in models if x.info.id == mid), None)
            return self._rejection(m, req, cloud_ok) or "unknown" if m else "not a known model (see `jarvis models`)"

        note = ""
        if req.explicit:
            chosen = next((t for t in scored if t[1].info.id == req.explicit), None)
            if chosen is None:
                raise NoModelAvailable(f"The requested model {req.explicit} cannot be used: {why(req.explicit)}.")
            note = "requested explicitly"
        elif policy is not None and policy.prefer:
            chosen = next((t for pref in policy.prefer for t in scored if t[1].info.id == pref), None)
            if chosen is not None:
                note = f"routing policy '{policy.name}'"
            elif scored:
                chosen = scored[0]
                unusable = "; ".join(f"{pref}: {why(pref) if pref not in passed else 'unknown'}"
                                     for pref in policy.prefer)
                note = f"policy '{policy.name}' prefers {unusable}, so"
        else:
            chosen = scored[0] if scored else None
        if chosen is None:
            reasons = [(m.info.id, self._rejection(m, req, cloud_ok)) for m in models[:6]]
            summary = "; ".join(f"{mid}: {r}" for mid, r in reasons) or "no models are known"
            raise NoModelAvailable(f"No model can take this {req.role or 'request'} ({summary}).")
        score, model = chosen
        parts = self._parts(model, stats.get(model.id), req, total)
        fallbacks = self._fallbacks(model, scored, policy)
        s = stats.get(model.id) or _NO_STATS
        reason = self._reason(model, strategy, parts, s, note)
        est_latency = None
        if s.tokens_per_s_p50:
            est_latency = (s.ttft_p50 or 0) + req.max_tokens / s.tokens_per_s_p50
        est_cost = (req.prompt_tokens * model.cost_in_per_1k + req.max_tokens * model.cost_out_per_1k) / 1000
        return Selection(model, fallbacks, reason, strategy, score, est_cost, est_latency, parts)

    @staticmethod
    def _fallbacks(chosen: ModelEntry, scored, policy: Policy | None, count: int = 3) -> list[ModelEntry]:
        out: list[ModelEntry] = []
        if policy is not None and policy.fallbacks:
            wanted = set(policy.fallbacks)
            named = {t[1].id: t[1] for t in scored if t[1].id in wanted and t[1] is not chosen}
            out = [named[p] for p in policy.fallbacks if p in named][:count]
        # Prefer other providers (a dead server takes all its models down with it): best-first
        # other-provider models, then same-provider ones; one pass each over the scored list.
        for same in (False, True):
            for _, m in scored:
                if len(out) >= count:
                    return out
                if m is not chosen and (m.provider == chosen.provider) == same and m not in out:
                    out.append(m)
        return out

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
