"""SelectionEngine: hard filters, then a score under a strategy, per request and per chain role."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from jarvis.providers.registry import ModelEntry

from .policies import Policy, matching_policy

STRATEGIES = ("performance", "quality", "cost", "reliability", "balanced")
DEFAULT_WEIGHTS = {"quality": 0.4, "performance": 0.25, "reliability": 0.25, "cost": 0.1}
#: Capabilities a model must really have; others (planning, reasoning) are preferences.
HARD_CAPABILITIES = frozenset({"function_calling", "vision", "embeddings"})
#: Added to the quality of a code-capable model when the request needs code.
CODE_BONUS = 0.05


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
        return {
            "model": self.model.id,
            "fallbacks": [f.id for f in self.fallbacks],
            "reason": self.reason,
            "strategy": self.strategy,
            "score": round(self.score, 4),
            "est_cost_usd": self.est_cost_usd,
            "est_latency_s": self.est_latency_s,
            "parts": {k: round(v, 4) for k, v in self.parts.items()},
        }


_NO_STATS = ModelStats()
_NO_MEASUREMENTS: Mapping[str, ModelStats] = {}


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


# -- hard filters ----------------------------------------------------------


class Candidate:
    """A model's facts the filters read, gathered once per registry generation.

    Plain slots rather than a dataclass: they are read in the hot loop.
    """

    __slots__ = ("model", "id", "window", "caps", "cloud")

    def __init__(self, m: ModelEntry) -> None:
        self.model = m
        self.id = m.info.id
        #: 0 when unknown: an unknown window rejects nothing.
        self.window = m.context_length or 0
        self.caps = m.capabilities
        self.cloud = m.provider_kind == "cloud"


@dataclass(frozen=True)
class Ask:
    """What one request needs, in the form the filters read."""

    need: int
    hard: frozenset[str]
    exclude: frozenset[str]
    cloud_ok: bool
    #: None when nothing is cooling at all, so the per-model check costs nothing.
    cooling: Callable[[str], bool] | None


Reject = Callable[[Candidate], bool]


@dataclass(frozen=True)
class HardFilter:
    """One named reason a model cannot take a request.

    ``test(ask)`` builds the fast check for one request (True = rejected), or returns None when
    the filter cannot reject anything for it; ``why`` words the rejection, and is only called to
    explain a refusal. Both read the same facts, so the fast path and the explanation agree.
    """

    name: str
    test: Callable[[Ask], Reject | None]
    why: Callable[[Candidate, Ask], str]
    #: Depends on the model alone: applied once per registry generation, not per request.
    static: bool = False


def _context_test(ask: Ask) -> Reject:
    need = ask.need
    return lambda c: 0 < c.window < need


def _capability_test(ask: Ask) -> Reject | None:
    hard = ask.hard
    return (lambda c: not hard <= c.caps) if hard else None


def _exclude_test(ask: Ask) -> Reject | None:
    exclude = ask.exclude
    return (lambda c: c.id in exclude) if exclude else None


def _cooling_test(ask: Ask) -> Reject | None:
    cooling = ask.cooling
    return (lambda c: cooling(c.id)) if cooling is not None else None


#: In the order a refusal is explained: the first filter that rejects a model names the reason.
HARD_FILTERS: tuple[HardFilter, ...] = (
    HardFilter("already failed", _exclude_test, lambda c, ask: "already failed"),
    HardFilter(
        "not available",
        lambda ask: lambda c: c.model.status != "available",
        lambda c, ask: c.model.status,
        static=True,
    ),
    HardFilter(
        "not a chat model",
        lambda ask: lambda c: "chat" not in c.caps,
        lambda c, ask: "not a chat model",
        static=True,
    ),
    HardFilter(
        "lacks a capability", _capability_test, lambda c, ask: "lacks " + ", ".join(sorted(ask.hard - c.caps))
    ),
    HardFilter(
        "context too small", _context_test, lambda c, ask: f"context {c.window} < {ask.need} tokens needed"
    ),
    HardFilter(
        "does not fit in memory",
        lambda ask: lambda c: c.model.fits_memory is False,
        lambda c, ask: "does not fit in memory now",
        static=True,
    ),
    HardFilter(
        "cloud not allowed",
        lambda ask: None if ask.cloud_ok else (lambda c: c.cloud),
        lambda c, ask: "cloud disabled or over budget",
    ),
    HardFilter("cooling down", _cooling_test, lambda c, ask: "cooling down after failures"),
)
_STATIC_ASK = Ask(0, frozenset(), frozenset(), True, None)


def _either(a: Reject, b: Reject) -> Reject:
    return lambda c: a(c) or b(c)


def rejection(c: Candidate, ask: Ask) -> str | None:
    """Why ``c`` cannot take the request, or None: the slow path, run only to explain a refusal."""
    for f in HARD_FILTERS:
        test = f.test(ask)
        if test is not None and test(c):
            return f.why(c, ask)
    return None


# -- scoring ---------------------------------------------------------------

Base = tuple[float, float, float, float, int]


def _explore_k(exploration: float, total_samples: int) -> float:
    # Few samples earn a bounded bonus (UCB-style): explored, not handed the job.
    return exploration * math.sqrt(math.log(total_samples + 2)) / 3


def _adjusted(
    base: Base, code_bonus: float, caps: frozenset[str], explore_k: float, exploration: float
) -> tuple[float, float, float, float, float]:
    """(quality, performance, reliability, cost, explore) for one request: base plus the two bonuses."""
    q, p, r, c, samples = base
    if code_bonus and "code" in caps:
        q = min(q + code_bonus, 1.0)
    return q, p, r, c, min(explore_k / math.sqrt(samples + 1), exploration)


class SelectionEngine:
    """Pure and fast (500 models well under 1 ms); everything it needs is passed in.

    ``allow_cloud()`` says whether cloud fallbacks are enabled and within budget;
    ``cooling(model_id)`` says whether the circuit breaker has the model cooling down (None: never);
    ``generation()`` changes whenever ``models()`` does (the registry's counter): the
    request-independent work is cached per generation. Without it, nothing is cached.
    """

    def __init__(
        self,
        models: Callable[[], Iterable[ModelEntry]],
        *,
        generation: Callable[[], int] | None = None,
        weights: Mapping[str, float] | None = None,
        policies: list[Policy] | None = None,
        allow_cloud: Callable[[], bool] = lambda: False,
        cooling: Callable[[str], bool] | None = None,
        any_cooling: Callable[[], bool] = lambda: True,
        exploration: float = 0.15,
        default_strategy: str = "balanced",
    ) -> None:
        self._models = models
        self._generation = generation
        self.weights = dict(weights or DEFAULT_WEIGHTS)
        self.policies = list(policies or [])
        self.allow_cloud = allow_cloud
        self.cooling = cooling
        #: Cheap "is anything cooling at all?", so the per-model check is skipped when nothing is.
        self.any_cooling = any_cooling
        self.exploration = exploration
        self.default_strategy = default_strategy
        self._static_for: int | None = None
        self._static: list[Candidate] = []
        self._memo_for: Mapping[str, ModelStats] | None = None
        self._memo: dict[str, Base] = {}
        self._memo_total = 0
        self._ranked_key: tuple[object, ...] | None = None
        self._ranked: list[tuple[float, Candidate]] = []
        self._ranked_stats: Mapping[str, ModelStats] | None = None

    # -- caches ----------------------------------------------------------
    def _candidates(self) -> list[Candidate]:
        """Models that pass the static filters, once per registry generation."""
        gen = self._generation() if self._generation is not None else None
        if gen is None or gen != self._static_for:
            static = [t for f in HARD_FILTERS if f.static and (t := f.test(_STATIC_ASK)) is not None]
            self._static = [c for c in map(Candidate, self._models()) if not any(t(c) for t in static)]
            self._static_for = gen
            self._ranked_key = None
        return self._static

    def _memo_base(self, stats: Mapping[str, ModelStats]) -> tuple[dict[str, Base], int]:
        # The orchestrator passes the same snapshot object until scores change: reuse the work.
        if self._memo_for is not stats:
            self._memo_for, self._memo = stats, {}
            self._memo_total = sum(s.samples for s in stats.values())
        return self._memo, self._memo_total

    def _ranking(
        self, candidates: list[Candidate], stats: Mapping[str, ModelStats], strategy: str, code_bonus: float
    ) -> list[tuple[float, Candidate]]:
        """Every static candidate with its score, best first; cached until the inputs change."""
        memo, total = self._memo_base(stats)
        w = self._norm_weights()
        key = (self._static_for, strategy, code_bonus, tuple(w.values()), self.exploration)
        if self._ranked_key == key and self._ranked_stats is stats:
            return self._ranked
        explore_k = _explore_k(self.exploration, total)
        wq, wp, wr, wc = w["quality"], w["performance"], w["reliability"], w["cost"]
        metrics = ("quality", "performance", "reliability", "cost")
        pick = metrics.index(strategy) if strategy != "balanced" else -1
        ranked: list[tuple[float, Candidate]] = []
        for c in candidates:
            base = memo.get(c.id)
            if base is None:
                base = memo[c.id] = self._base(c.model, stats.get(c.id))
            q, p, r, co, explore = _adjusted(base, code_bonus, c.caps, explore_k, self.exploration)
            score = (wq * q + wp * p + wr * r + wc * co) if pick < 0 else (q, p, r, co)[pick]
            ranked.append((score + explore, c))
        # Stable sort on the score alone: ties keep the registry's (provider, name) order.
        ranked.sort(key=lambda t: t[0], reverse=True)
        self._ranked_key, self._ranked, self._ranked_stats = key, ranked, stats
        return ranked

    # -- scoring ---------------------------------------------------------
    @staticmethod
    def _base(m: ModelEntry, s: ModelStats | None) -> Base:
        """(quality, performance, reliability, cost, samples) from measurements; request-independent."""
        s = s or _NO_STATS
        tps = math.log10(1 + s.tokens_per_s_p50) / 2 if s.tokens_per_s_p50 else 0.5  # 100 tok/s ≈ 1
        ttft = 1 / (1 + 2 * s.ttft_p50) if s.ttft_p50 is not None else 0.5
        performance = min(1.0, 0.6 * tps + 0.4 * ttft)
        # Quality: ratings (1-5) and pairwise strength for this task type, weighted by their counts.
        n_r = s.ratings if s.rating_mean is not None else 0
        n_v = s.votes if s.strength is not None else 0
        quality: float
        if n_r or n_v:
            quality = ((((s.rating_mean or 1) - 1) / 4) * n_r + (s.strength or 0) * n_v) / (n_r + n_v)
        elif s.rating_mean is not None:
            quality = (s.rating_mean - 1) / 4
        elif s.strength is not None:
            quality = s.strength
        else:
            quality = 0.5  # unknown: middling
        reliability = (s.successes + 1) / (s.requests + 2)  # Laplace: unknown = 0.5
        price = m.cost_in_per_1k + m.cost_out_per_1k
        cost = 1.0 if price == 0 else 1 / (1 + 100 * price)
        return quality, performance, reliability, cost, s.samples

    def _norm_weights(self) -> dict[str, float]:
        keys = ("quality", "performance", "reliability", "cost")
        total = sum(self.weights.get(k, 0) for k in keys) or 1
        return {k: self.weights.get(k, 0) / total for k in keys}

    # -- selection -------------------------------------------------------
    def select(self, req: Request, stats: Mapping[str, ModelStats] | None = None) -> Selection:
        stats = stats if stats is not None else _NO_MEASUREMENTS
        policy: Policy | None = matching_policy(self.policies, req.task_type, req.language, req.role)
        strategy = (
            req.strategy or (policy.strategy if policy and policy.strategy else None) or self.default_strategy
        )
        if strategy not in STRATEGIES:
            raise ValueError(f"Unknown strategy '{strategy}'. Choose one of: {', '.join(STRATEGIES)}.")
        ask = Ask(
            need=max(req.prompt_tokens + req.max_tokens, req.min_context),
            hard=HARD_CAPABILITIES.intersection(req.capabilities),
            exclude=req.exclude,
            cloud_ok=self.allow_cloud(),
            cooling=self.cooling if self.cooling is not None and self.any_cooling() else None,
        )
        code_bonus = CODE_BONUS if "code" in req.capabilities else 0.0
        ranked = self._ranking(self._candidates(), stats, strategy, code_bonus)
        # The fast path: the same filters, without words; most cannot reject anything for a given request.
        tests = [t for f in HARD_FILTERS if not f.static and (t := f.test(ask)) is not None]
        if tests:
            reject = functools.reduce(_either, tests)
            scored = [(s, c.model) for s, c in ranked if not reject(c)]
        else:
            scored = [(s, c.model) for s, c in ranked]

        def why(mid: str) -> str:
            m = next((x for x in self._models() if x.info.id == mid), None)
            if m is None:
                return "not a known model (see `jarvis models`)"
            return rejection(Candidate(m), ask) or "unknown"

        note = ""
        chosen: tuple[float, ModelEntry] | None
        if req.explicit:
            chosen = next((t for t in scored if t[1].info.id == req.explicit), None)
            if chosen is None:
                raise NoModelAvailable(
                    f"The requested model {req.explicit} cannot be used: {why(req.explicit)}."
                )
            note = "requested explicitly"
        elif policy is not None and policy.prefer:
            chosen = next((t for pref in policy.prefer for t in scored if t[1].info.id == pref), None)
            if chosen is not None:
                note = f"routing policy '{policy.name}'"
            elif scored:
                chosen = scored[0]
                passed = {m.info.id for _, m in scored}
                unusable = "; ".join(
                    f"{pref}: {why(pref) if pref not in passed else 'unknown'}" for pref in policy.prefer
                )
                note = f"policy '{policy.name}' prefers {unusable}, so"
        else:
            chosen = scored[0] if scored else None
        if chosen is None:
            models = list(self._models())[:6]
            summary = "; ".join(f"{m.info.id}: {rejection(Candidate(m), ask)}" for m in models)
            raise NoModelAvailable(
                f"No model can take this {req.role or 'request'} ({summary or 'no models are known'})."
            )
        score, model = chosen
        parts = self._parts(model, stats, code_bonus)
        fallbacks = self._fallbacks(model, scored, policy)
        s = stats.get(model.id) or _NO_STATS
        reason = self._reason(model, strategy, parts, s, note)
        est_latency = None
        if s.tokens_per_s_p50:
            est_latency = (s.ttft_p50 or 0) + req.max_tokens / s.tokens_per_s_p50
        est_cost = (req.prompt_tokens * model.cost_in_per_1k + req.max_tokens * model.cost_out_per_1k) / 1000
        return Selection(model, fallbacks, reason, strategy, score, est_cost, est_latency, parts)

    def _parts(self, m: ModelEntry, stats: Mapping[str, ModelStats], code_bonus: float) -> dict[str, float]:
        memo, total = self._memo_base(stats)
        base = memo.get(m.id) or self._base(m, stats.get(m.id))
        q, p, r, c, explore = _adjusted(
            base, code_bonus, m.capabilities, _explore_k(self.exploration, total), self.exploration
        )
        return {"quality": q, "performance": p, "reliability": r, "cost": c, "explore": explore}

    @staticmethod
    def _fallbacks(
        chosen: ModelEntry, scored: Sequence[tuple[float, ModelEntry]], policy: Policy | None, count: int = 3
    ) -> list[ModelEntry]:
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
