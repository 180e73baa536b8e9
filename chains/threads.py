"""Follow-up turns: what a continued, regenerated or forked run carries from the turns before it.

A thread is the runs that continue one another (runs.thread_id, parent_run_id, turn; migration m006).
A follow-up's model sees the earlier turns as a conversation: each task as a user message, each
answer as the assistant's, and the verifier's results (when the code was run) before the next task.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jarvis.providers.types import Message

from .ledger import COMPLETED, RUNNING, Ledger
from .ledger_async import AsyncLedger
from .thread_turn import ThreadTurn
from .verify.store import verification_of

#: Result lines shown per verified turn: enough for a model to see what failed, not the whole record.
MAX_CHECK_LINES = 8


class ThreadError(Exception):
    """A turn that cannot be continued, regenerated or forked; the message says why and what to do."""


@dataclass(frozen=True)
class PriorTurn:
    """One earlier turn as the next prompt shows it."""

    run_id: str
    task: str
    answer: str
    #: The verifier's results on this turn's code, as a few lines (None: not verified).
    checks: str | None = None


@dataclass(frozen=True)
class AttachedAgain:
    """A file the continued turn had attached: attached again from disk, with what changed."""

    root: str
    path: str
    #: "same", "changed" or "missing".
    state: str


@dataclass(frozen=True)
class FollowUp:
    """RunOptions.follow_up: where the new run goes in its thread and what it has seen."""

    #: The turn this one answers after (None: a regenerated first turn).
    parent_run_id: str | None
    #: The thread it joins (None: a new thread - a fork - named after the new run).
    thread_id: str | None
    turn: int
    turns: tuple[PriorTurn, ...] = ()
    #: The files of the turn continued, to attach again (read from disk, not from the ledger).
    files: tuple[AttachedAgain, ...] = ()
    #: A comparison's follow-up: each model's own earlier turns, by its label (A, B, ...), and the models.
    lanes: dict[str, tuple[PriorTurn, ...]] = field(default_factory=dict)
    models: tuple[str, ...] = ()
    #: How the turn followed was run (its chain, model, strategy): a follow-up goes on the same way.
    origin_options: dict[str, Any] = field(default_factory=dict)

    def messages(self, label: str | None = None) -> tuple[list[Message], str]:
        """The earlier turns as chat messages (a comparison's: that label's model's), and the lead of
        the next user message (the verifier's results on the last answer, if any: they are the user's
        side of the conversation)."""
        out: list[Message] = []
        lead = ""
        for turn in self.lanes.get(label, ()) if label is not None else self.turns:
            out.append(Message("user", lead + turn.task))
            out.append(Message("assistant", turn.answer or "(no answer)"))
            lead = f"{turn.checks}\n\n" if turn.checks else ""
        return out, lead

    @property
    def notices(self) -> list[str]:
        """What the user should know before the follow-up runs: files changed or gone since."""
        changed = [f.path for f in self.files if f.state == "changed"]
        missing = [f.path for f in self.files if f.state == "missing"]
        out = []
        if changed:
            out.append(
                f"Changed since turn {self.turn - 1}: {', '.join(changed)}; the follow-up sees the files"
                " as they are now."
            )
        if missing:
            out.append(
                f"Gone since turn {self.turn - 1}: {', '.join(missing)}; the follow-up goes without"
                f" {'it' if len(missing) == 1 else 'them'}."
            )
        return out

    @property
    def file_paths(self) -> list[Path]:
        """The files to attach again (those still on disk), as absolute paths."""
        return [Path(f.root) / f.path for f in self.files if f.state != "missing"]


# -- building a follow-up from the ledger (functions of a Ledger, run on its thread) --------------
def _turn_or_fail(ledger: Ledger, run_id: str) -> ThreadTurn:
    turn = ledger.thread_turn(run_id)
    if turn is None:
        raise ThreadError(f"There is no run {run_id} (see `jarvis history`).")
    if turn.status == RUNNING:
        raise ThreadError(f"{run_id} is still running; wait for it to finish (or cancel it) first.")
    return turn


def _answered(turn: ThreadTurn, doing: str) -> None:
    if turn.status != COMPLETED:
        raise ThreadError(
            f"{turn.run_id} {turn.status} without an answer, so there is nothing to {doing};"
            f" regenerate it instead (`jarvis regenerate {turn.run_id}`)."
        )


def continuation(ledger: Ledger, run_id: str | None, *, kind: str = "chain") -> FollowUp:
    """The next turn after ``run_id`` (None: the newest run of ``kind``). Raises ThreadError."""
    if run_id is None:
        run_id = ledger.latest_run(kind)
        if run_id is None:
            raise ThreadError('There is no run to continue yet; start one with `jarvis run "TASK"`.')
    turn = _turn_or_fail(ledger, run_id)
    _kind_is(turn, kind)
    _answered(turn, "continue")
    prior, files = _prior(ledger, run_id), _files(ledger, run_id)
    return FollowUp(run_id, turn.thread_id, turn.turn + 1, prior, files, origin_options=_how(turn))


def regeneration(ledger: Ledger, run_id: str) -> tuple[ThreadTurn, FollowUp]:
    """The same turn again, beside the original (same parent, same turn number). Raises ThreadError."""
    turn = _turn_or_fail(ledger, run_id)
    prior = _prior(ledger, turn.parent_run_id) if turn.parent_run_id else ()
    files = _files(ledger, run_id)
    return turn, FollowUp(
        turn.parent_run_id, turn.thread_id, turn.turn, prior, files, origin_options=_how(turn)
    )


def fork(ledger: Ledger, run_id: str) -> FollowUp:
    """A new thread whose history is ``run_id``'s thread up to and with that turn. Raises ThreadError."""
    turn = _turn_or_fail(ledger, run_id)
    _answered(turn, "fork from")
    prior, files = _prior(ledger, run_id), _files(ledger, run_id)
    return FollowUp(run_id, None, turn.turn + 1, prior, files, origin_options=_how(turn))


def compare_continuation(ledger: Ledger, compare_id: str | None) -> FollowUp:
    """The next turn of a comparison: every model continues its own answers. Raises ThreadError."""
    if compare_id is None:
        compare_id = ledger.latest_run("compare")
        if compare_id is None:
            raise ThreadError("There is no comparison to continue yet; start one with `jarvis compare`.")
    turn = _turn_or_fail(ledger, compare_id)
    _kind_is(turn, "compare")
    _answered(turn, "continue")
    lanes: dict[str, list[PriorTurn]] = {}
    models: tuple[str, ...] = ()
    for earlier in ledger.lineage(compare_id):
        row = ledger.db.execute("SELECT result_json FROM runs WHERE id=?", [earlier.run_id]).fetchone()
        answers = (json.loads(row[0]) if row and row[0] else {}).get("answers", [])
        models = tuple(a["model"] for a in answers)
        for a in answers:
            lanes.setdefault(a["label"], []).append(PriorTurn(earlier.run_id, earlier.task, a["output"]))
    return FollowUp(
        compare_id,
        turn.thread_id,
        turn.turn + 1,
        lanes={k: tuple(v) for k, v in lanes.items()},
        models=models,
    )


def _how(turn: ThreadTurn) -> dict[str, Any]:
    how = {k: turn.options.get(k) for k in ("chain", "model", "strategy", "no_fallback", "context")}
    return {**how, "chain": how["chain"] or turn.chain}


def _kind_is(turn: ThreadTurn, kind: str) -> None:
    if turn.kind == kind:
        return
    if turn.kind == "compare":
        raise ThreadError(
            f"{turn.run_id} is a comparison; continue it with `jarvis compare --continue {turn.run_id}"
            ' "TASK"` or in the Compare view.'
        )
    raise ThreadError(f"{turn.run_id} is a {turn.kind} run, not a {kind}; it cannot be continued here.")


def _prior(ledger: Ledger, run_id: str) -> tuple[PriorTurn, ...]:
    """The turns up to and with ``run_id``, oldest first, with their answers and check results."""
    out = []
    for turn in ledger.lineage(run_id):
        row = ledger.db.execute("SELECT result_json FROM runs WHERE id=?", [turn.run_id]).fetchone()
        result = json.loads(row[0]) if row and row[0] else {}
        out.append(
            PriorTurn(turn.run_id, turn.task, result.get("answer") or "", _checks(ledger, turn.run_id))
        )
    return tuple(out)


def _files(ledger: Ledger, run_id: str) -> tuple[AttachedAgain, ...]:
    run_files = getattr(ledger, "run_files", None)  # chains.context's table (migration m005)
    if run_files is None:
        return ()
    out = []
    for f in run_files(run_id):
        path = Path(f.root) / f.path
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            out.append(AttachedAgain(f.root, f.path, "missing"))
            continue
        out.append(AttachedAgain(f.root, f.path, "same" if digest == f.sha256 else "changed"))
    return tuple(out)


def checks_summary(record: dict | None) -> str | None:
    """The verifier's results on a turn's chosen code, as the next prompt shows them."""
    if not record:
        return None
    checks = record.get("checks", [])
    winner = next((c for c in record.get("candidates", []) if c.get("index") == record.get("winner")), None)
    head = f"Your code above was run against {len(checks)} check(s): {record.get('status', 'unknown')}."
    if winner is None:
        return head
    lines = [head]
    if winner.get("load_error"):
        lines.append(f"- the code does not load: {winner['load_error']}")
    for check, result in zip(checks, winner.get("results", []), strict=False):
        if result.get("passed"):
            lines.append(f"- passed: {check['display']}")
        else:
            got = f", got {result['actual']}" if result.get("actual") is not None else ""
            err = f" ({result['error']})" if result.get("error") else ""
            lines.append(f"- FAILED: {check['display']}{got}{err}")
    if len(lines) > MAX_CHECK_LINES + 1:
        more = len(lines) - 1 - MAX_CHECK_LINES
        failed_first = sorted(lines[1:], key=lambda line: not line.startswith("- FAILED"))
        lines = [head, *failed_first[:MAX_CHECK_LINES], f"- … and {more} more"]
    return "\n".join(lines)


def _checks(ledger: Ledger, run_id: str) -> str | None:
    return checks_summary(verification_of(ledger, run_id))


# -- the same, awaited from the event loop -----------------------------------------------------------
async def continue_run(ledger: AsyncLedger, run_id: str | None, *, kind: str = "chain") -> FollowUp:
    return await ledger.call_fn(lambda led: continuation(led, run_id, kind=kind))


async def continue_comparison(ledger: AsyncLedger, compare_id: str | None) -> FollowUp:
    return await ledger.call_fn(compare_continuation, compare_id)


async def regenerate_run(ledger: AsyncLedger, run_id: str) -> tuple[ThreadTurn, FollowUp]:
    return await ledger.call_fn(regeneration, run_id)


async def fork_run(ledger: AsyncLedger, run_id: str) -> FollowUp:
    return await ledger.call_fn(fork, run_id)


# -- a thread as History, `jarvis thread` and exports show it ----------------------------------------
@dataclass(frozen=True)
class ThreadView:
    thread_id: str
    #: A forked thread's history before its first turn (turns of the thread it was forked from).
    forked_from: tuple[ThreadTurn, ...]
    #: Every run of the thread by turn, a regenerated turn after the one it repeats.
    turns: tuple[ThreadTurn, ...]

    @property
    def runs(self) -> list[ThreadTurn]:
        return [*self.forked_from, *self.turns]

    def as_json(self) -> dict:
        return {
            "thread_id": self.thread_id,
            "forked_from": [t.as_json() for t in self.forked_from],
            "turns": [t.as_json() for t in self.turns],
        }


def thread_of(ledger: Ledger, run_id: str) -> ThreadView:
    """The thread ``run_id`` belongs to. Raises ThreadError when there is no such run."""
    turn = ledger.thread_turn(run_id)
    if turn is None:
        raise ThreadError(f"There is no run {run_id} (see `jarvis history`).")
    turns = ledger.thread_turns(turn.thread_id)
    first = turns[0] if turns else turn
    before = ledger.lineage(first.parent_run_id) if first.forked and first.parent_run_id else []
    return ThreadView(turn.thread_id, tuple(before), tuple(turns))
