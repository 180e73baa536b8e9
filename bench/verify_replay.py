"""Replay stored HumanEval verifications: grade every candidate by the hidden tests, rank them again.

A `jarvis eval humaneval` run keeps, for each verified task, every candidate's answer (its step), its
results on the task's examples and its outputs on the agreement inputs. This grades each candidate's
code with the problem's own check() in the sandbox (never shown to the model) and ranks the stored
candidates with today's `rank_candidates`, so a ranking rule is measured on hundreds of real
verifications without asking the model again:

- winner right as stored: what the run reported;
- winner right, ranked today: the same candidates under the current ranking (which winners change);
- some candidate right: the ceiling any ranking of those candidates could reach;
- winner right without the retries: the candidates drawn before the first retry (the samples after
  the repairs when none passed), ranked today: what the run would have answered with `retries = 0`.

Sampling decisions (how many candidates were drawn) are as stored; only the pick is replayed.

Run: .venv/bin/python -m bench.verify_replay JARVIS_HOME/jarvis.db [...] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jarvis.chains.verify.rank import Candidate, rank_candidates
from jarvis.chains.verify.sandbox import Sandbox
from jarvis.chains.verify.suites import Task, load_humaneval, run_task
from jarvis.chains.verify.task_checks import candidate_code, task_prelude

_AUTHORITATIVE = ("given", "extracted")


@dataclass(frozen=True)
class Replayed:
    where: str  # the ledger file
    task: str
    chain: str
    stored: int  # the stored winner's index
    now: int  # the winner under today's ranking
    no_retries: int  # the winner under today's ranking without the retries after the repairs
    right: tuple[bool | None, ...]  # per candidate: passes the hidden tests (None: its answer is gone)


def rerank(record: dict[str, Any], upto: int | None = None) -> int:
    """The winner today's ranking picks among a stored verification's candidates (the first `upto`)."""
    auth = [c["source"] in _AUTHORITATIVE for c in record["checks"]]
    cands = [
        Candidate(
            index=i,
            passed=sum(a and r["passed"] for a, r in zip(auth, c["results"], strict=True)),
            total=sum(auth),
            outputs=tuple(c.get("outputs") or ()),
        )
        for i, c in enumerate(record["candidates"][:upto])
    ]
    return rank_candidates(cands).winner


def before_retries(record: dict[str, Any]) -> int:
    """The winner had the verification stopped after its repairs: ranked among the candidates before
    the first retry (all of them when none was drawn)."""
    origins = [c.get("origin") for c in record["candidates"]]
    return rerank(record, origins.index("retry")) if "retry" in origins else rerank(record)


async def grade(db: str, tasks: dict[str, Task], sandbox: Sandbox, seen: dict) -> list[Replayed]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = conn.execute(
        "SELECT e.task_id, e.chain, v.record_json FROM verifications v"
        " JOIN eval_results e ON e.run_id = v.run_id"
    ).fetchall()
    out = []
    for task_id, chain, text in rows:
        task, record = tasks.get(task_id), json.loads(text)
        if task is None or not record.get("candidates"):
            continue  # not a HumanEval task, or verified without a sandbox
        right: list[bool | None] = []
        for cand in record["candidates"]:
            step = conn.execute("SELECT output FROM steps WHERE id = ?", (cand.get("step_id"),)).fetchone()
            if not step:
                right.append(None)
                continue
            code = candidate_code(step[0] or "", task.entry_point, prelude=task_prelude(task.task))
            if (task_id, code) not in seen:
                run = await run_task(sandbox, task, code) if code else None
                seen[task_id, code] = bool(
                    run and run.authoritative and run.passed_authoritative == run.authoritative
                )
            right.append(seen[task_id, code])
        out.append(
            Replayed(
                db, task_id, chain, record["winner"], rerank(record), before_retries(record), tuple(right)
            )
        )
    conn.close()
    return out


def summary(replays: Sequence[Replayed]) -> dict[str, Any]:
    changed = [r for r in replays if r.now != r.stored]
    return {
        "verifications": len(replays),
        "winner_right_stored": sum(bool(r.right[r.stored]) for r in replays),
        "winner_right_now": sum(bool(r.right[r.now]) for r in replays),
        "some_candidate_right": sum(any(r.right) for r in replays),
        "winner_right_without_retries": sum(bool(r.right[r.no_retries]) for r in replays),
        "changed": [
            {"task": r.task, "chain": r.chain, "where": r.where, "stored": r.stored, "now": r.now,
             "stored_right": r.right[r.stored], "now_right": r.right[r.now]}
            for r in changed
        ],
    }  # fmt: skip


async def main_async(args: argparse.Namespace) -> None:
    tasks = {t.id: t for t in load_humaneval().tasks}
    sandbox, seen = Sandbox(), {}
    replays = [r for db in args.ledgers for r in await grade(db, tasks, sandbox, seen)]
    doc = summary(replays)
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    n = doc["verifications"]
    print(f"{n} verifications of HumanEval tasks in {len(args.ledgers)} ledger(s)")
    print(f"  winner right, as stored:      {doc['winner_right_stored']}")
    print(f"  winner right, ranked today:   {doc['winner_right_now']}")
    print(f"  some candidate right:         {doc['some_candidate_right']}")
    print(f"  winner right without retries: {doc['winner_right_without_retries']}")
    for c in doc["changed"]:
        print(
            f"  {c['task']} ({c['chain']}): winner {c['stored']} → {c['now']}, "
            f"right {c['stored_right']} → {c['now_right']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("ledgers", nargs="+", help="jarvis.db files of `jarvis eval humaneval` runs")
    parser.add_argument("--json", action="store_true")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
