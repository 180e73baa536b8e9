"""Decide what of a run's context fits the chosen model's window, and say so: nothing is dropped silently.

Order of claim on the window: files named with -f (the user wants them whole; the first that does not
fit is trimmed if a useful part fits, the rest are left out), then, when a `--dir` does not fit whole,
its repo map, then the folder's files whole in rank order; the rest are represented by the map only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .attachment import INCLUDED, LEFT_OUT, MAP, TRIMMED, Attachment
from .project import ProjectContext
from .prompt_block import BLOCK_OVERHEAD, PREAMBLE, context_block, file_block_tokens
from .repomap import build_repo_map
from .tokens import estimate_tokens

#: Trimming a file to less than this many tokens shows too little of it to be worth the space.
MIN_TRIMMED_TOKENS = 96
#: Files named in one notice before "and N more" (--json and the Context panel list them all).
NAMES_IN_NOTICE = 8


@dataclass
class Fitted:
    """The block to put in the prompt, each attachment's fate, and the sentences that say it."""

    block: str
    attachments: list[Attachment]
    notices: list[str] = field(default_factory=list)
    tokens: int = 0
    map_tokens: int = 0
    #: The window and the model these decisions were made for.
    window: int | None = None
    model_id: str = ""

    def as_json(self) -> dict[str, object]:
        return {
            "model": self.model_id,
            "window": self.window,
            "tokens": self.tokens,
            "map_tokens": self.map_tokens,
            "files": [a.as_json() for a in self.attachments],
            "notices": list(self.notices),
        }


def fit(
    ctx: ProjectContext,
    *,
    budget: int | None,
    model_id: str = "",
    window: int | None = None,
    task: str = "",
    suggest: Callable[[int], str | None] | None = None,
) -> Fitted:
    """``budget``: tokens the block may take (the window less the rest of the prompt and the answer
    budget), None when the window is unknown (everything is included). ``suggest(tokens_needed)`` names
    a model with a window large enough for everything, or returns None."""
    usable = [a for a in ctx.attachments if a.status != LEFT_OUT]
    unreadable = [a for a in ctx.attachments if a.status == LEFT_OUT]
    files = [a for a in usable if a.source == "file"]
    folder = [a for a in usable if a.source == "dir"]
    whole = sum(file_block_tokens(a) for a in usable) + BLOCK_OVERHEAD
    where = f"{model_id}'s {window}-token window" if window else "the model's window"
    left = budget if budget is not None else None
    out: dict[int, Attachment] = {}
    notices: list[str] = []

    def take(cost: int) -> bool:
        nonlocal left
        if left is None:
            return True
        if cost <= left:
            left -= cost
            return True
        return False

    if left is not None:
        left -= BLOCK_OVERHEAD
    cut = False
    for a in files:
        cost = file_block_tokens(a)
        if take(cost):  # a smaller file after one that did not fit may still fit whole
            out[id(a)] = a
            continue
        room = (left or 0) - (cost - a.tokens)
        if not cut and room >= MIN_TRIMMED_TOKENS:
            text, shown_lines, total_lines = _head(a.text, room)
            trimmed = a.with_status(
                TRIMMED,
                text=text,
                tokens=estimate_tokens(text),
                reason=f"first {shown_lines} of {total_lines} lines fit {where}",
            )
            take(file_block_tokens(trimmed))
            out[id(a)] = trimmed
            cut = True  # one file is trimmed at most: it takes what room was left
            notices.append(
                f"{a.rel_path} was trimmed to its first {shown_lines} of {total_lines} lines"
                f" (about {trimmed.tokens} of {a.tokens} tokens) to fit {where}."
            )
        else:
            out[id(a)] = a.with_status(LEFT_OUT, reason=f"does not fit {where}")
            notices.append(
                f"{a.rel_path} ({a.tokens} tokens) was left out: it does not fit {where}"
                " after the task and the answer budget."
            )
    map_text = ""
    if folder:
        needed = sum(file_block_tokens(a) for a in folder)
        if left is not None and needed > left:
            map_budget = min(ctx.map_tokens, max(left, 0))
            rmap = build_repo_map(
                ctx.root,
                [(a.rel_path, a.abs_path) for a in folder],
                task=task,
                budget=map_budget,
                cache_dir=ctx.cache_dir,
                texts={a.rel_path: a.text for a in folder},
                focus=[a.rel_path for a in files],
            )
            map_text = rmap.text
            left -= rmap.tokens
            order = {p: i for i, p in enumerate(rmap.ranked)}
            mapped = set(rmap.shown)
            in_map: list[str] = []
            missing: list[str] = []
            for a in sorted(folder, key=lambda a: order.get(a.rel_path, len(order))):
                if take(file_block_tokens(a)):
                    out[id(a)] = a
                elif a.rel_path in mapped:
                    out[id(a)] = a.with_status(MAP, reason="shown as an outline in the repo map")
                    in_map.append(a.rel_path)
                else:
                    out[id(a)] = a.with_status(LEFT_OUT, reason=f"neither it nor its outline fit {where}")
                    missing.append(a.rel_path)
            if in_map:
                notices.append(
                    f"{len(in_map)} of {len(folder)} files from --dir are shown only as outlines in the"
                    f" repo map ({rmap.tokens} tokens): {_names(in_map)}."
                )
            if missing:
                notices.append(
                    f"{len(missing)} files from --dir did not fit {where}, not even as outlines:"
                    f" {_names(missing)}."
                )
        else:
            for a in folder:
                take(file_block_tokens(a))
                out[id(a)] = a
    result = [out.get(id(a), a) for a in ctx.attachments]
    shown = [(a.rel_path, a.text) for a in result if a.status in (INCLUDED, TRIMMED)]
    block = PREAMBLE + "\n" + context_block(shown, map_text) if (shown or map_text) else ""
    said = [*ctx.notices, *(f"{a.rel_path} is not attached: {a.reason}." for a in unreadable)]
    notices[:0] = list(dict.fromkeys(said))  # collecting said some already: each once, first
    if any(a.status in (TRIMMED, LEFT_OUT, MAP) for a in result if a not in unreadable):
        notices.append(_suggestion(suggest, whole, budget, window))
    return Fitted(
        block,
        result,
        notices,
        estimate_tokens(block) if block else 0,
        estimate_tokens(map_text) if map_text else 0,
        window,
        model_id,
    )


def _suggestion(
    suggest: Callable[[int], str | None] | None, whole: int, budget: int | None, window: int | None
) -> str:
    # Everything needs ``whole`` tokens where the block had ``budget``: the window must grow by the gap.
    need = (window or 0) + whole - (budget or 0)
    other = suggest(need) if suggest else None
    if other:
        return (
            f"All the files would fit {other}; run with --model {other.split(' ')[0]} to give it everything."
        )
    return (
        f"No known model has a window for all of it (about {need} tokens): attach fewer files,"
        " or a subfolder with --dir."
    )


def _head(text: str, tokens: int) -> tuple[str, int, int]:
    """The first lines of ``text`` within ``tokens``, and a marker saying how much is missing."""
    lines = text.splitlines(keepends=True)
    marker_cost = 24
    kept: list[str] = []
    used = 0
    for line in lines:
        cost = estimate_tokens(line) or 1
        if used + cost > tokens - marker_cost:
            break
        kept.append(line)
        used += cost
    marker = f"… [trimmed: {len(lines) - len(kept)} more lines not shown to fit the window]\n"
    return "".join(kept) + marker, len(kept), len(lines)


def _names(paths: Sequence[str]) -> str:
    more = len(paths) - NAMES_IN_NOTICE
    return ", ".join(paths[:NAMES_IN_NOTICE]) + (f" and {more} more (see --json)" if more > 0 else "")
