"""A run or a comparison streamed to the terminal (or gathered into one JSON document), and its exit code."""

from __future__ import annotations

import json
import sys
from dataclasses import replace

from jarvis.chains.context.in_step import ContextFitted
from jarvis.chains.events import (
    FallbackTaken,
    Notice,
    RunCancelled,
    RunFailed,
    RunFinished,
    StepFinished,
    StepStarted,
    TokenDelta,
)
from jarvis.chains.policies import PolicyError
from jarvis.chains.run_options import RunOptions
from jarvis.chains.verify.events import CandidateChecked, ChecksFound, VerificationFinished
from jarvis.chains.verify.store import verification_of

from .edits_console import edits_after_run, no_edits_note, print_edits
from .engine import build_engine
from .exit_codes import EXIT_CANCELLED, EXIT_CONFIG, EXIT_FAILED, EXIT_NO_MODEL, EXIT_OK, EXIT_USAGE
from .export import run_as_json
from .output import emit_json, fail


async def run_chain(
    config, paths, task: str, options: RunOptions, as_json: bool, test_cmd: str | None = None
) -> int:
    """``test_cmd``: the project's tests, run on a sandboxed copy with the answer's edits applied."""
    try:
        engine = await build_engine(config, paths).start()
    except PolicyError as err:  # policies.toml is read when the engine is built
        return fail(str(err), EXIT_CONFIG)
    last = None
    # The confinement notice is shown once, before generated code first runs (the engine does no app I/O).
    options = replace(options, confinement_notice=not paths.verify_notice.exists())
    verified = False
    edits = None
    fitted: ContextFitted | None = None
    try:
        async for event in engine.orchestrator.run(task, options):
            if isinstance(event, ContextFitted):
                fitted = event  # the last step's view of the attached files (the answer's, as a rule)
                if not as_json:
                    _render_context(event)
                continue
            last = event
            verified = verified or isinstance(event, ChecksFound)
            if not as_json:
                _render(event)
            elif isinstance(event, Notice) and event.text.startswith("Verification runs"):
                sys.stderr.write(f"! {event.text}\n")  # consent matters in a script too
        await engine.ledger.flush()
        run = await engine.ledger.run(last.run_id) if last else None
        if run is not None:
            run["verification"] = await engine.ledger.call_fn(verification_of, run["id"])
            edits = await edits_after_run(engine.ledger, run["id"], test_cmd)
    finally:
        await engine.close()
    if verified and options.confinement_notice:
        _remember_notice(paths.verify_notice)
    if as_json:
        doc = run_as_json(run) if run else {"status": "failed"}
        if isinstance(last, RunFailed):
            doc["error"] = {"message": last.message, "kind": last.kind}
        if fitted is not None:
            doc["context"] = {
                k: v
                for k, v in fitted.as_json().items()
                if k in ("model_id", "window", "tokens", "files", "notices")
            }
        doc["edits"] = edits.as_json() if edits else None
        emit_json(doc)
    elif edits is not None:
        print_edits(edits)
    elif run is not None and (note := no_edits_note(run)):
        sys.stderr.write(f"\n   ({note})\n")
    finished = isinstance(last, RunFinished)  # a failed run has said why; there is no answer to test
    if test_cmd and finished and (edits is None or not edits.review.changes):
        sys.stderr.write("! --test-cmd did not run: the answer has no usable edits to attached files.\n")
    return _exit_code(last)


def _render_context(event: ContextFitted) -> None:
    shown = [f for f in event.files if f["status"] in ("included", "trimmed")]
    window = f" of {event.model_id}'s {event.window}-token window" if event.window else ""
    sys.stderr.write(
        f"\n   [context: {len(shown)}/{len(event.files)} files, ~{event.tokens} tokens{window}]\n"
    )


def _remember_notice(path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    except OSError:
        pass  # the notice shows again next time: better than failing a finished run


def _exit_code(last) -> int:
    if isinstance(last, RunFinished):
        return EXIT_OK
    if isinstance(last, RunCancelled):
        return EXIT_CANCELLED
    if isinstance(last, RunFailed):
        return {"no_model": EXIT_NO_MODEL, "usage": EXIT_USAGE}.get(last.kind, EXIT_FAILED)
    return EXIT_FAILED


def _render(event) -> None:
    out, err = sys.stdout, sys.stderr
    if isinstance(event, StepStarted):
        label = event.role + (f" (round {event.round})" if event.round else "")
        err.write(f"\n── {label} · {event.model_id} ── {event.reason}\n")
    elif isinstance(event, TokenDelta):
        out.write(event.text)
        out.flush()
    elif isinstance(event, StepFinished):
        u = event.usage.as_json()
        if event.status == "completed":
            tps = f"{u['tokens_per_s']:.0f} tok/s" if u.get("tokens_per_s") else "-"
            ttft = f"{u['ttft_s'] * 1000:.0f} ms" if u.get("ttft_s") else "-"
            tokens = u.get("completion_tokens")
            err.write(f"\n   [{event.model_id}: {tokens} tokens, first token {ttft}, {tps}]\n")
    elif isinstance(event, Notice):
        err.write(f"\n! {event.text}\n")
    elif isinstance(event, FallbackTaken):
        to = f"trying {event.to_model}" if event.to_model else "no model left to try"
        kept = f" ({len(event.partial_text)} characters kept)" if event.partial_text else ""
        err.write(f"\n! {event.from_model} failed: {event.message}{kept}; {to}.\n")
    elif isinstance(event, RunFinished):
        result = event.result.as_json()
        blocks = result.get("code_blocks") or result.get("answers") or []
        err.write(
            f"\n✓ {event.run_id} finished in {event.total_s:.1f} s, cost ${event.cost_usd:.4f}"
            f"{f', {len(blocks)} code block(s)' if 'code_blocks' in result else ''}."
            f" Rate it: jarvis rate {event.run_id} 1-5\n"
        )
    elif isinstance(event, RunFailed):
        err.write(f"\n✗ {event.message}\n")
    elif isinstance(event, RunCancelled):
        err.write(f"\n✗ {event.run_id} cancelled.\n")
    elif isinstance(event, (ChecksFound, CandidateChecked, VerificationFinished)):
        _render_verification(event)


def _render_verification(event) -> None:
    """The checks found, each candidate's ✓/✗ per check (with the failure), and the verdict."""
    err = sys.stderr
    if isinstance(event, ChecksFound):
        where = f" of {event.entry_point}()" if event.entry_point else ""
        err.write(f"\n── checks{where}: {len(event.checks)} · sandbox {event.tier} ──\n")
        for check in event.checks:
            err.write(f"   {check['source']:>9}: {check['display']}\n")
        if not event.checks:
            err.write("   none found: the code cannot be verified, only compared between candidates\n")
    elif isinstance(event, CandidateChecked):
        kept = "" if event.kept else f" — not kept: {event.note}"
        err.write(
            f"\n   {event.label}: {event.passed}/{event.total} checks passed in {event.seconds:.2f} s{kept}\n"
        )
        for line in event.lines:
            err.write(f"     {line}\n")
    elif isinstance(event, VerificationFinished):
        mark = "✓" if event.verified else "!"
        err.write(
            f"\n{mark} {event.status}\n   winner: candidate {event.winner + 1} ({event.reason});"
            f" {event.candidates} candidate(s), {event.rounds} repair round(s), sandbox {event.tier}\n"
        )


async def run_comparison(config, paths, prompt, models, options, as_json: bool, follow_up=None) -> int:
    """``follow_up``: a next turn of an earlier comparison (chains.threads.compare_continuation)."""
    try:
        engine = await build_engine(config, paths).start()
    except PolicyError as err:  # policies.toml is read when the engine is built
        return fail(str(err), EXIT_CONFIG)
    last = None
    try:
        async for event in engine.orchestrator.compare(prompt, models, options, follow_up=follow_up):
            last = event
            if as_json:
                continue
            if isinstance(event, StepStarted):
                sys.stderr.write(f"\n── {event.role}: {event.model_id} ──\n")
            elif isinstance(event, TokenDelta):
                pass  # answers may interleave; they are printed whole below
            elif isinstance(event, (Notice, RunFailed, RunCancelled)):
                _render(event)
        await engine.ledger.flush()
        run = await engine.ledger.run(last.run_id) if last else None
    finally:
        await engine.close()
    result = json.loads(run["result_json"]) if run and run.get("result_json") else {"answers": []}
    if as_json:
        emit_json(
            {
                "compare_id": last.run_id if last else None,
                "status": run["status"] if run else "failed",
                **result,
            }
        )
        return _exit_code(last)
    for a in result["answers"]:
        u = a.get("usage") or {}
        stats = (
            f"first token {u['ttft_s'] * 1000:.0f} ms, {u.get('tokens_per_s') or 0:.0f} tok/s, "
            f"{u.get('completion_tokens')} tokens"
            if u.get("ttft_s")
            else a.get("error", "")
        )
        print(f"\n=== {a['label']}: {a['model']} ({a['status']}; {stats}) ===\n{a['output']}")
    if isinstance(last, RunFinished):
        print(f"\nVote: jarvis vote {last.run_id} A|B|tie|bad")
    return _exit_code(last)
