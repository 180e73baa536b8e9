"""A run as the stable JSON document scripts read, or as Markdown a person reads."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any


def run_as_json(run: dict[str, Any]) -> dict[str, Any]:
    steps = []
    for s in run.get("steps", []):
        usage = {k: s.get(k) for k in ("prompt_tokens", "completion_tokens")}
        timings = {k: s.get(k) for k in ("ttft_s", "tokens_per_s", "total_s")}
        steps.append(
            {
                "step_id": s["id"],
                "role": s["role"],
                "round": s["round"],
                "model": s["model_id"],
                "provider": s["provider"],
                "status": s["status"],
                "output": s["output"],
                "usage": usage,
                "timings": timings,
                "finish_reason": s.get("finish_reason"),
                "reason": s.get("reason"),
                "notices": json.loads(s["notices_json"]) if s.get("notices_json") else [],
                "error": s.get("error"),
                "attempts": s.get("attempts", []),
            }
        )
    doc = {
        "run_id": run["id"],
        "kind": run["kind"],
        "chain": run["chain"],
        "status": run["status"],
        "task": run["task"],
        "task_type": run["task_type"],
        "language": run["language"],
        "started_at": run["started_at"],
        "finished_at": run["finished_at"],
        # Its place in a thread of turns (chains.threads): a first run is its own thread, turn 1.
        "thread_id": run.get("thread_id") or run["id"],
        "parent_run_id": run.get("parent_run_id"),
        "turn": run.get("turn") or 1,
        "cost_usd": run["cost_usd"],
        "steps": steps,
        "result": json.loads(run["result_json"]) if run.get("result_json") else None,
        "ratings": [
            {k: r[k] for k in ("target_kind", "target_id", "score", "comment")}
            for r in run.get("ratings", [])
        ],
    }
    if run.get("error"):
        doc["error"] = {"message": run["error"], "kind": run.get("error_kind")}
    if run.get("verification"):
        # A verified run (attached by the caller from the ledger's verifications table).
        doc["verification"] = run["verification"]
    if run.get("files"):
        # The attached project files (chains.context): path, hash, tokens, status; never their text.
        doc["files"] = run["files"]
    if run.get("applies"):
        # The answer's edits to those files: patch or refusal per file, applied/undone (chains.edits).
        doc["applies"] = run["applies"]
        doc["edit_tests"] = run.get("edit_tests", [])
    return doc


def run_as_markdown(run: dict[str, Any]) -> str:
    when = datetime.fromtimestamp(run["started_at"]).strftime("%Y-%m-%d %H:%M")
    lines = [
        f"# {run['kind'].title()} {run['id']}",
        "",
        f"- **Task type:** {run['task_type']}  ",
        f"- **Chain:** {run['chain'] or '-'}  ",
        f"- **Status:** {run['status']}  ",
        f"- **Started:** {when}  ",
        f"- **Cost:** ${run['cost_usd'] or 0:.4f}",
        "",
        "## Task",
        "",
        run["task"],
        "",
    ]
    if run.get("files"):
        lines += ["## Attached files", ""]
        lines += [f"- `{f['path']}` — {f['tokens'] or 0} tokens, {f['status']}" for f in run["files"]]
        lines.append("")
    for s in run.get("steps", []):
        head = f"## {s['role']}" + (f" (round {s['round']})" if s["round"] else "") + f" — {s['model_id']}"
        lines += [head, ""]
        if s.get("reason"):
            lines += [f"_{s['reason']}_", ""]
        meta = []
        if s.get("ttft_s"):
            meta.append(f"first token {s['ttft_s'] * 1000:.0f} ms")
        if s.get("tokens_per_s"):
            meta.append(f"{s['tokens_per_s']:.0f} tok/s")
        if s.get("completion_tokens"):
            meta.append(f"{s['completion_tokens']} tokens")
        if meta:
            lines += ["> " + ", ".join(meta), ""]
        lines += _attempts_markdown(s.get("attempts", []))
        lines += [s["output"] or f"_({s['status']})_", ""]
    if run.get("verification"):
        lines += verification_markdown(run["verification"])
    if run.get("applies"):
        lines += edits_markdown(run["applies"], run.get("edit_tests", []))
    result = json.loads(run["result_json"]) if run.get("result_json") else None
    if result and result.get("summary_markdown"):
        lines += ["---", "", result["summary_markdown"], ""]
    for r in run.get("ratings", []):
        lines.append(
            f"- Rated {r['score']}/5 ({r['target_kind']} {r['target_id']})"
            + (f": {r['comment']}" if r.get("comment") else "")
        )
    return "\n".join(lines).rstrip() + "\n"


def edits_markdown(applies: list[dict[str, Any]], tests: list[dict[str, Any]]) -> list[str]:
    """The answer's edits to the attached files: each file's fate and patch, and the tests run on them."""
    lines = ["## Edits to the attached files", ""]
    for a in applies:
        lines.append(f"- `{a['path']}`: {a['status']}" + (f" — {a['reason']}" if a.get("reason") else ""))
    for a in applies:
        if a.get("patch"):
            lines += ["", "```diff", a["patch"].rstrip("\n"), "```"]
    for t in tests:
        how = "passed" if t["passed"] else f"failed (exit status {t['exit_code']})"
        lines += ["", f"`{t['command']}` on the patched copy {how} [sandbox {t['tier']}]"]
    return [*lines, ""]


def verification_markdown(record: dict[str, Any]) -> list[str]:
    """The verdict, the sandbox, and each kept candidate's per-check ✓/✗ (the winner first)."""
    lines = ["## Verification", "", f"**{record['status']}**", ""]
    if record.get("tier"):
        lines += [f"- **Sandbox:** {record['tier']}  "]
    if record.get("reason"):
        lines += [f"- **Why this candidate:** {record['reason']}  "]
    count = len(record.get("candidates", []))
    lines += [
        f"- **Candidates:** {count}, repair rounds: {record.get('rounds', 0)},"
        f" model calls: {record.get('model_calls', 0)}",
        "",
    ]
    checks = record.get("checks", [])
    candidates = sorted(record.get("candidates", []), key=lambda c: c["index"] != record.get("winner"))
    for cand in candidates:
        title = "Winner" if cand["index"] == record.get("winner") else "Candidate"
        lines += [f"### {title}: candidate {cand['index'] + 1} ({cand.get('origin', 'sample')})", ""]
        if cand.get("load_error"):
            lines.append(f"- ✗ the code does not load: {cand['load_error']}")
        for check, result in zip(checks, cand.get("results", []), strict=False):
            mark = "✓" if result["passed"] else "✗"
            why = ""
            if not result["passed"]:
                got = f"got {result['actual']}" if result.get("actual") is not None else ""
                parts = [x for x in (result.get("error"), got) if x]
                why = ": " + ", ".join(parts) if parts else ""
            lines.append(f"- {mark} `{check['display']}` ({check['source']}){why}")
        lines.append("")
    for rejected in record.get("rejected_repairs", []):
        lines.append(
            f"- Repair of candidate {rejected['repair_of'] + 1} (round {rejected['round']})"
            f" not kept: {rejected['why']}"
        )
    return lines + ([""] if record.get("rejected_repairs") else [])


def _attempts_markdown(attempts: list[dict[str, Any]]) -> list[str]:
    """Every model tried, when more than one was (or the only one failed): a fallback is never hidden."""
    if len(attempts) < 2 and all(a["status"] == "ok" for a in attempts):
        return []
    lines = ["Attempts:", ""]
    for i, a in enumerate(attempts, 1):
        took = f", {a['latency_s']:.1f} s" if a.get("latency_s") is not None else ""
        line = f"{i}. `{a['model']}` ({a['provider'] or '?'}): {a['status']}{took}"
        if a.get("error"):
            line += f" — {a['error_kind']}: {a['error']}"
        if a.get("partial_text"):
            line += f" ({len(a['partial_text'])} characters kept)"
        lines.append(line)
    return lines + [""]
