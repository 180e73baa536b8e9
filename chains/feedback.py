"""Recording feedback, the same for the CLI and the workbench: ratings of runs or steps, votes on comparisons.

Like request rows, the rating or votes and their stored `model.feedback.received` event are
written together, here; `received` gives the typed event the workbench publishes on its bus.
"""

from __future__ import annotations

from typing import Any

from .bus import FEEDBACK_RECEIVED, FeedbackReceived
from .leaderboard import expand_vote
from .ledger import Ledger


class FeedbackError(Exception):
    """Feedback that cannot be recorded; the message says why, in a sentence."""


def rate(
    ledger: Ledger, target_id: str, score: int, *, comment: str | None = None, correction: str | None = None
) -> dict[str, Any]:
    """Rate a run (run_...) or one of its steps (step_...) from 1 to 5; returns the stored rating."""
    if not 1 <= score <= 5:
        raise FeedbackError(f"a rating is 1 to 5, not {score}.")
    kind = "step" if target_id.startswith("step_") else "run"
    try:
        rating = ledger.add_rating(kind, target_id, score, comment=comment, correction=correction)
    except KeyError:
        raise FeedbackError(f"no {kind} with id {target_id} (see `jarvis history`).") from None
    ledger.add_event(rating["run_id"], FEEDBACK_RECEIVED, feedback_payload(rating))
    return rating


def vote(ledger: Ledger, compare_id: str, winner: str) -> dict[str, Any]:
    """Vote on a comparison: A/B/C/D (best of N), tie or bad; the models come from the ledger."""
    run = ledger.run(compare_id)
    if run is None or run["kind"] != "compare":
        raise FeedbackError(f"no comparison with id {compare_id} (see `jarvis history`).")
    models = [s["model_id"] for s in sorted(run["steps"], key=lambda s: s["idx"])]
    try:
        pairs = expand_vote(models, winner)
    except ValueError as err:
        raise FeedbackError(str(err)) from None
    ledger.add_votes(compare_id, pairs, run["task_type"])
    result = {
        "compare_id": compare_id,
        "winner": winner,
        "models": models,
        "task_type": run["task_type"],
        "pairs": [list(p) for p in pairs],
    }
    ledger.add_event(compare_id, FEEDBACK_RECEIVED, vote_payload(result))
    return result


def feedback_payload(rating: dict[str, Any]) -> dict[str, Any]:
    return {k: rating[k] for k in ("target_kind", "target_id", "model_id", "task_type", "score")}


def vote_payload(result: dict[str, Any]) -> dict[str, Any]:
    return {k: result[k] for k in ("compare_id", "winner", "models")}


def received(record: dict[str, Any]) -> FeedbackReceived:
    """The bus event for a rating (from `rate`) or a vote (from `vote`)."""
    if "compare_id" in record:
        return FeedbackReceived(
            record["compare_id"],
            "compare",
            record["compare_id"],
            task_type=record["task_type"],
            winner=record["winner"],
            models=tuple(record["models"]),
        )
    return FeedbackReceived(
        record["run_id"],
        record["target_kind"],
        record["target_id"],
        record["model_id"],
        record["task_type"],
        score=record["score"],
    )
