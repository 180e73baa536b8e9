"""Pairwise leaderboard: Bradley-Terry strengths fitted on votes, with bootstrap 95 % intervals.

Ties and both-bad count as half a win for each side, as Chatbot Arena does. The bootstrap
resamples votes with replacement (a multinomial over distinct (a, b, outcome) kinds) and
fits all rounds at once with vectorised minorise-maximise updates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

OUTCOME_SCORE = {"A": 1.0, "B": 0.0, "tie": 0.5, "bad": 0.5}
#: Each model plays a virtual half-tie against every other: keeps unbeaten models finite.
PRIOR_GAMES = 0.5
ELO_SCALE = 400 / np.log(10)


@dataclass(frozen=True)
class Standing:
    model: str
    rating: float  # Elo-like, mean 1000
    ci_low: float
    ci_high: float
    strength: float  # expected win rate against an average model, in [0, 1]
    votes: int
    wins: float

    def as_json(self) -> dict[str, object]:
        return {
            "model": self.model,
            "rating": round(self.rating, 1),
            "ci95": [round(self.ci_low, 1), round(self.ci_high, 1)],
            "strength": round(self.strength, 4),
            "votes": self.votes,
            "wins": self.wins,
        }


def _fit(wins: np.ndarray, games: np.ndarray, iters: int = 200, tol: float = 1e-8) -> np.ndarray:
    """wins[..., i, j]: i's wins over j; games[..., i, j]: games between i and j. Returns log-strengths."""
    m = wins.shape[-1]
    prior = PRIOR_GAMES * (1 - np.eye(m))
    w = wins + prior / 2
    n = games + prior
    total_wins = w.sum(axis=-1)
    p = np.ones(wins.shape[:-1])
    for _ in range(iters):
        denom = (n / (p[..., :, None] + p[..., None, :])).sum(axis=-1)
        new = total_wins / denom
        new /= np.exp(np.log(new).mean(axis=-1, keepdims=True))  # geometric mean 1
        if np.max(np.abs(new - p)) < tol:
            p = new
            break
        p = new
    return np.log(p)


def bradley_terry(
    votes: Sequence[tuple[str, str, str]], *, rounds: int = 1000, seed: int = 0
) -> list[Standing]:
    """``votes``: (model_a, model_b, outcome in A|B|tie|bad). Standings best first."""
    votes = [(a, b, o) for a, b, o in votes if a != b and o in OUTCOME_SCORE]
    if not votes:
        return []
    models = sorted({a for a, _, _ in votes} | {b for _, b, _ in votes})
    index = {m: i for i, m in enumerate(models)}
    k = len(models)
    kinds: dict[tuple[int, int, float], int] = {}
    for first, second, outcome in votes:
        key = (index[first], index[second], OUTCOME_SCORE[outcome])
        kinds[key] = kinds.get(key, 0) + 1
    keys = list(kinds)
    counts = np.array([kinds[key] for key in keys], dtype=float)
    # Each kind adds s to wins[a,b], 1-s to wins[b,a] and 1 game each way.
    win_basis = np.zeros((len(keys), k * k))
    game_basis = np.zeros((len(keys), k * k))
    for c, (a, b, s) in enumerate(keys):
        win_basis[c, a * k + b] += s
        win_basis[c, b * k + a] += 1 - s
        game_basis[c, a * k + b] += 1
        game_basis[c, b * k + a] += 1

    def fit(count_rows: np.ndarray) -> np.ndarray:
        wins = (count_rows @ win_basis).reshape(-1, k, k)
        games = (count_rows @ game_basis).reshape(-1, k, k)
        return _fit(wins, games)

    point = fit(counts[None, :])[0]
    rng = np.random.default_rng(seed)
    if rounds > 0:
        samples = rng.multinomial(int(counts.sum()), counts / counts.sum(), size=rounds).astype(float)
        boot = fit(samples)
        low, high = np.percentile(boot, [2.5, 97.5], axis=0)
    else:
        low = high = point
    shift = 1000 - ELO_SCALE * point.mean()
    games_per = np.zeros(k)
    wins_per = np.zeros(k)
    for (a, b, s), n in kinds.items():
        games_per[a] += n
        games_per[b] += n
        wins_per[a] += s * n
        wins_per[b] += (1 - s) * n
    standings = [
        Standing(
            model=m,
            rating=float(ELO_SCALE * point[i] + shift),
            ci_low=float(ELO_SCALE * low[i] + shift),
            ci_high=float(ELO_SCALE * high[i] + shift),
            strength=float(np.exp(point[i]) / (np.exp(point[i]) + 1)),
            votes=int(games_per[i]),
            wins=float(wins_per[i]),
        )
        for i, m in enumerate(models)
    ]
    return sorted(standings, key=lambda s: -s.rating)


def expand_vote(models: Sequence[str], winner: str) -> list[tuple[str, str, str]]:
    """Turn a vote on 2-4 answers into pairwise outcomes.

    Two answers: winner is A, B, tie or bad. More (best-of-N): winner is the letter of the
    best answer (it beats each other one), or tie/bad for all pairs.
    """
    letters = [chr(ord("A") + i) for i in range(len(models))]
    if winner in ("tie", "bad"):
        return [(models[i], models[j], winner) for i in range(len(models)) for j in range(i + 1, len(models))]
    if winner not in letters:
        raise ValueError(f"Vote one of {', '.join(letters)}, tie or bad.")
    best = letters.index(winner)
    if len(models) == 2:
        return [(models[0], models[1], winner)]
    return [(models[best], models[j], "A") for j in range(len(models)) if j != best]
