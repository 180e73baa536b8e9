"""Builds each step's messages from its template, trimming earlier outputs to the model's window - visibly."""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from jarvis.providers.tokens import CHARS_PER_TOKEN, estimate_prompt_tokens, estimate_text_tokens
from jarvis.providers.types import Message

from .history_fit import fit_history
from .specs import RoleSpec


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "(none)"


def fields_of(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@dataclass
class BuiltPrompt:
    messages: list[Message]
    est_tokens: int
    notices: list[str]


def _trim(text: str, keep_tokens: int) -> str:
    """Keep the head and the tail (where conclusions and final code usually are)."""
    # The marker line costs ~20 tokens itself: keep that much less of the text.
    keep_chars = max(int((keep_tokens - 24) * CHARS_PER_TOKEN), 40)
    if len(text) <= keep_chars:
        return text
    head = keep_chars // 3
    tail = keep_chars - head
    dropped = estimate_text_tokens(text[head : len(text) - tail])
    return f"{text[:head]}\n…[{dropped} tokens trimmed to fit the context window]…\n{text[-tail:]}"


def build(
    role: RoleSpec,
    values: Mapping[str, str],
    *,
    revise: bool = False,
    window: int | None = None,
    max_tokens: int = 0,
    model_id: str = "",
    history: Sequence[Message] = (),
    lead: str = "",
) -> BuiltPrompt:
    """``history``: a thread's earlier turns (chains.threads), as messages between the system prompt and
    this step's; cut first, from the oldest, when the window is short. ``lead`` opens the user message."""
    template = role.revise_prompt if revise and role.revise_prompt else role.prompt
    values = dict(values)
    history = list(history)
    messages = _messages(role, template, values, history, lead)
    est = estimate_prompt_tokens(messages)
    notices: list[str] = []
    if window and history and est + max_tokens > window:
        alone = estimate_prompt_tokens(_messages(role, template, values, [], lead))
        # The earlier turns give way first, but keep at least a quarter of the room: without them a
        # follow-up ("now handle the empty list") means nothing.
        room = max(window - max_tokens - alone, (window - max_tokens) // 4)
        fitted = fit_history(history, room)
        if fitted.left_out:
            before = estimate_prompt_tokens(history)
            history = fitted.messages
            notices.append(
                f"Trimmed the earlier turns from about {before} to {estimate_prompt_tokens(history)}"
                f" tokens ({fitted.left_out:,} characters left out) to fit {model_id}'s {window}-token"
                " window."
            )
            messages = _messages(role, template, values, history, lead)
            est = estimate_prompt_tokens(messages)
    if window and est + max_tokens > window:
        budget = (
            window
            - max_tokens
            - estimate_prompt_tokens(
                _messages(
                    role,
                    template,
                    {**values, **{k: "" for k in fields_of(template) if k != "task"}},
                    history,
                    lead,
                )
            )
        )
        trimmable = [k for k in fields_of(template) if k != "task" and values.get(k)]
        if budget > 0 and trimmable:
            share = budget // len(trimmable)
            originals = {k: values[k] for k in trimmable}
            for _ in range(3):  # estimates round up per piece: shrink until it really fits
                for k in trimmable:
                    if estimate_text_tokens(originals[k]) > share:
                        values[k] = _trim(originals[k], share)
                messages = _messages(role, template, values, history, lead)
                est = estimate_prompt_tokens(messages)
                if est + max_tokens <= window:
                    break
                share -= (est + max_tokens - window) // len(trimmable) + 1
            notices += [
                f"Trimmed '{k}' from about {estimate_text_tokens(originals[k])} to"
                f" {estimate_text_tokens(values[k])} tokens to fit {model_id}'s {window}-token window."
                for k in trimmable
                if values[k] != originals[k]
            ]
    return BuiltPrompt(messages, est, notices)


def _messages(
    role: RoleSpec,
    template: str,
    values: Mapping[str, str],
    history: Sequence[Message] = (),
    lead: str = "",
) -> list[Message]:
    user = lead + template.format_map(_Blank(values))
    system = [Message("system", role.system)] if role.system else []
    return [*system, *history, Message("user", user)]
