"""Tool calls on the wire: what each backend family sends and expects, to and from the typed
``ToolCall``/``ToolSpec``/``Message`` of types.py.

- OpenAI-compatible servers (LM Studio, llama.cpp's server, vLLM, litellm) stream a call in pieces:
  the first delta of an ``index`` carries ``id`` and ``function.name``, later ones append fragments of
  ``function.arguments`` (a JSON *text*). Some servers repeat id and name in every delta (llama-cpp-python)
  or leave ``index`` out; both are tolerated.
- Ollama sends whole calls in ``message.tool_calls``, ``function.arguments`` as a JSON *object*, with no
  ``id`` in older releases; a tool turn names its function in ``tool_name``.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .types import Completion, GenerationOptions, Message, ToolCall

#: tool_choice values that are not a function's name.
CHOICE_WORDS = ("auto", "none", "required")


def wants_tools(options: GenerationOptions) -> bool:
    """Whether the request offers the model functions to call."""
    return bool(options.tools) and options.tool_choice != "none"


def openai_tools(options: GenerationOptions) -> dict[str, Any]:
    """The request fields for an OpenAI-compatible body (or litellm's kwargs): tools and tool_choice."""
    if not options.tools:
        return {}
    out: dict[str, Any] = {"tools": [t.as_openai() for t in options.tools]}
    choice = options.tool_choice
    if choice in CHOICE_WORDS:
        out["tool_choice"] = choice
    elif choice:
        out["tool_choice"] = {"type": "function", "function": {"name": choice}}
    return out


def with_calls(final: Completion, calls: Sequence[ToolCall]) -> Completion:
    """A stream's final record with the calls the model asked for: finish_reason "tool_calls", or "length"
    when the answer was cut off inside them (max_tokens ran out: a call's arguments are not whole JSON)."""
    if not calls:
        return final
    cut = final.finish_reason == "length" or not all(_whole_json(c.arguments) for c in calls)
    return replace(final, tool_calls=tuple(calls), finish_reason="length" if cut else "tool_calls")


def _whole_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@dataclass
class _Partial:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ToolCallAccumulator:
    """Streamed OpenAI tool-call deltas, joined by ``index`` into whole calls."""

    def __init__(self) -> None:
        self._calls: dict[int, _Partial] = {}
        self._last: int | None = None

    def add(self, index: int | None, call_id: str | None, name: str | None, arguments: str | None) -> None:
        if index is None:
            # A server that leaves out the index: a new id starts a new call, else it continues the last.
            fresh = self._last is None or bool(call_id and call_id != self._calls[self._last].id)
            index = (max(self._calls) + 1 if self._calls else 0) if fresh else self._last
        assert index is not None
        part = self._calls.setdefault(index, _Partial())
        self._last = index
        if call_id and not part.id:
            part.id = call_id
        if name and not part.name:  # some servers repeat the name in every delta: keep the first
            part.name = name
        if arguments:
            part.arguments.append(arguments)

    def add_delta(self, deltas: Sequence[Any] | None) -> None:
        """``delta.tool_calls`` of one chunk, as dicts (httpx JSON) or objects (litellm)."""
        for d in deltas or ():
            fn = _get(d, "function") or {}
            self.add(_get(d, "index"), _get(d, "id"), _get(fn, "name"), _get(fn, "arguments"))

    def calls(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(p.id, p.name, "".join(p.arguments) or "{}")
            for _, p in sorted(self._calls.items())
            if p.name
        )


def _get(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


# -- Ollama -----------------------------------------------------------------
def from_ollama(raw: Sequence[Any] | None) -> tuple[ToolCall, ...]:
    """``message.tool_calls`` of an Ollama answer (dicts or the client's objects) as typed calls."""
    out = []
    for call in raw or ():
        fn = _get(call, "function") or {}
        arguments = _get(fn, "arguments")
        text = arguments if isinstance(arguments, str) else json.dumps(dict(arguments or {}))
        out.append(ToolCall(str(_get(call, "id") or ""), str(_get(fn, "name") or ""), text))
    return tuple(out)


def arguments_object(call: ToolCall) -> dict[str, Any]:
    """The arguments as the JSON object Ollama wants; text that is not an object is kept under "value"
    rather than dropped (Ollama's api.ToolCallFunctionArguments is a map)."""
    try:
        value = json.loads(call.arguments or "{}")
    except ValueError:
        return {"value": call.arguments}
    return value if isinstance(value, dict) else {"value": value}


def to_ollama_call(call: ToolCall, index: int) -> dict[str, Any]:
    """Ollama's api.ToolCall; ``index`` is left out when 0, as Go's omitempty does."""
    function: dict[str, Any] = {"name": call.name, "arguments": arguments_object(call)}
    return {"function": {"index": index, **function} if index else function}


def ollama_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Messages for /api/chat: calls with object arguments, a tool turn with its function's name."""
    names: dict[str, str] = {}
    out = []
    for m in messages:
        doc: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.tool_calls:
            doc["tool_calls"] = [to_ollama_call(c, i) for i, c in enumerate(m.tool_calls)]
            names.update({c.id: c.name for c in m.tool_calls if c.id})
        if m.role == "tool" and m.tool_call_id and m.tool_call_id in names:
            doc["tool_name"] = names[m.tool_call_id]
        out.append(doc)
    return out


# -- backends without tools -------------------------------------------------
def plain_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """A conversation with tool turns for a chat template that knows only system/user/assistant: a call
    is described in the assistant's text, a result is a user turn (what the model can still read)."""
    out = []
    for m in messages:
        content = m.content
        role = m.role
        if m.tool_calls:
            calls = "; ".join(f"{c.name}({c.arguments})" for c in m.tool_calls)
            content = f"{content}\n[called {calls}]".strip()
        if role == "tool":
            role, content = "user", f"Tool result: {content}"
        out.append({"role": role, "content": content})
    return out


# -- litellm (cloud) --------------------------------------------------------
def litellm_function_calling(models: Sequence[str]) -> frozenset[str]:
    """Which litellm model strings its model map marks ``supports_function_calling``, read from the JSON
    file litellm ships (what ``litellm.supports_function_calling`` reads) without importing litellm
    (seconds) during discovery. Empty when litellm or its map is missing."""
    if not models:
        return frozenset()
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    path = Path(next(iter(spec.submodule_search_locations))) / "model_prices_and_context_window_backup.json"
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        return frozenset()
    out = set()
    for model in models:
        # "openai/gpt-4o-mini" is listed as "gpt-4o-mini"; "anthropic/claude-..." under either name.
        entry = known.get(model) or known.get(model.split("/", 1)[-1]) or {}
        if isinstance(entry, dict) and entry.get("supports_function_calling"):
            out.add(model)
    return frozenset(out)
