"""A finished run's edits to the attached files: reviewed, stored, printed; shared by `run` and `apply`."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jarvis.chains.edits.apply import AppliedFile, UndoOutcome, apply_review, undo_files
from jarvis.chains.edits.project_tests import CommandNotRunnable, ProjectTestResult, run_project_tests
from jarvis.chains.edits.review import EditReview, review_answer
from jarvis.chains.edits.store import (
    applied_files,
    record_applied,
    record_review,
    record_test_result,
    record_undone,
)
from jarvis.chains.ledger_async import AsyncLedger
from jarvis.chains.verify.store import verification_of

_TAIL_LINES = 15


@dataclass(frozen=True)
class RunEdits:
    """A run's review, and the project tests' result when a test command ran."""

    run_id: str
    review: EditReview
    tests: ProjectTestResult | None = None
    #: Why the test command could not run at all (one sentence), when it could not.
    tests_error: str | None = None

    def as_json(self) -> dict[str, Any]:
        doc = self.review.as_json()
        doc["tests"] = self.tests.as_json() if self.tests else None
        if self.tests_error:
            doc["tests_error"] = self.tests_error
        return doc


def answer_of(run: dict[str, Any]) -> str:
    result = json.loads(run["result_json"]) if run.get("result_json") else {}
    return str(result.get("answer") or "")


def no_edits_note(run: dict[str, Any]) -> str | None:
    """For a run given files whose answer has code but no edit: why no diff is offered. Code that names
    no attached file is not taken as an edit (it may be an example), but it is not passed over unsaid."""
    if not run.get("files") or "```" not in answer_of(run):
        return None
    verification = run.get("verification")
    if verification and verification.get("mode") != "project":  # candidates' code is run, not applied
        return (
            "no edits to your files: a verified run's code is checked as written, not offered as edits;"
            " run without verification (--test-cmd runs your tests on the diff) to get a diff"
        )
    return (
        "no edits to your files: no code block of the answer names an attached file; to get a diff,"
        " ask for the change with the file's path on the line above its code"
    )


async def review_run(ledger: AsyncLedger, run_id: str, *, force: bool = False) -> EditReview | None:
    """The review of a run's answer against its attached files (stored), or None when the run had no
    attached files or its answer no edits."""
    files = await ledger.run_files(run_id)
    run = await ledger.run(run_id) if files else None
    if run is None:
        return None
    attached = {f.path: f.sha256 for f in files}
    # A file the prompt held only in part (trimmed, outlined) must not be replaced whole.
    partial = {f.path for f in files if f.status != "included"}
    review = await asyncio.to_thread(
        review_answer, answer_of(run), Path(files[0].root), attached, force=force, partial=partial
    )
    if not review.has_edits:
        return None
    await ledger.call_fn(record_review, run_id, review)
    return review


async def run_tests_on_patch(ledger: AsyncLedger, run_id: str, review: EditReview, command: str) -> RunEdits:
    """Run the project's test command on a patched copy and store its result."""
    try:
        result = await run_project_tests(review.root, review.changes, command)
    except CommandNotRunnable as err:
        return RunEdits(run_id, review, tests_error=str(err))
    await ledger.call_fn(record_test_result, run_id, result.as_json())
    return RunEdits(run_id, review, result)


def print_edits(edits: RunEdits, *, hint: bool = True) -> None:
    """The patches on stdout (they are the content); each edit's fate and the next step on stderr."""
    out, err = sys.stdout, sys.stderr
    review = edits.review
    err.write(f"\n── edits to your files in {review.root} ──\n")
    for change in review.changes:
        out.write(change.patch)
    out.flush()
    for outcome in review.outcomes:
        err.write(f"   {outcome.line()}\n")
    if edits.tests_error:
        err.write(f"\n! the tests did not run: {edits.tests_error}\n")
    elif edits.tests is not None:
        t = edits.tests
        err.write(f"\n{'✓' if t.passed else '✗'} {t.summary()}\n")
        if t.warning:
            err.write(f"   ! {t.warning}\n")
        if not t.passed:
            for line in t.output_tail.rstrip().splitlines()[-_TAIL_LINES:]:
                err.write(f"     {line}\n")
    if hint and review.changes:
        err.write(
            f"\nNothing is written yet. Apply: jarvis apply {edits.run_id}"
            f"  (undo later: jarvis apply --undo {edits.run_id})\n"
        )
    elif hint:
        err.write("\nNone of the answer's edits can be applied; the reasons are above.\n")


async def apply_run(ledger: AsyncLedger, backups: Path, run_id: str, review: EditReview) -> list[AppliedFile]:
    """Write a reviewed run's changes (raises ApplyRefused: nothing written) and store what was done."""
    applied = await asyncio.to_thread(apply_review, review, backups / run_id)
    await ledger.call_fn(record_applied, run_id, str(review.root), applied)
    return applied


async def undo_run(ledger: AsyncLedger, run_id: str, *, force: bool = False) -> list[UndoOutcome] | None:
    """Put back what an apply of the run wrote; None when nothing of it is applied."""
    root, files = await ledger.call_fn(applied_files, run_id)
    if root is None:
        return None
    outcomes = await asyncio.to_thread(undo_files, Path(root), files, force=force)
    await ledger.call_fn(record_undone, run_id, outcomes)
    return outcomes


async def edits_after_run(ledger: AsyncLedger, run_id: str, test_cmd: str | None = None) -> RunEdits | None:
    """After `jarvis run` with files: the answer's edits reviewed (and tested with `test_cmd`), or None
    when it has none."""
    review = await review_run(ledger, run_id)
    if review is None:
        return None
    if test_cmd and review.changes:
        tested = await _tested_in_verification(ledger, run_id, test_cmd)
        if tested is not None:  # a verified run's project mode ran them on the winner's patch already
            await ledger.call_fn(record_test_result, run_id, tested.as_json())
            return RunEdits(run_id, review, tested)
        return await run_tests_on_patch(ledger, run_id, review, test_cmd)
    return RunEdits(run_id, review)


async def _tested_in_verification(ledger: AsyncLedger, run_id: str, command: str) -> ProjectTestResult | None:
    """The winner's test result of a verified run in project mode (chains.verify.project_mode)."""
    record = await ledger.call_fn(verification_of, run_id)
    if not record or record.get("mode") != "project" or record.get("command") != command:
        return None
    row = next((c for c in record.get("candidates", []) if c.get("index") == record.get("winner")), None)
    return ProjectTestResult(**row["tests"]) if row and row.get("tests") else None
