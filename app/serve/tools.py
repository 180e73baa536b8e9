"""Tools through `jarvis serve`: the functions a client offers (`tools`, `tool_choice`) reach the model
where its backend can call them, and the calls come back in the client's API's shape.

Which models can: Ollama's own word (/api/show `capabilities` has "tools"); an embedded GGUF with a ChatML
chat template (llama-cpp-python's tool handler, providers/embedded_tools.py); for LM Studio, OpenAI-compatible
servers and cloud models the registry's "function_calling" (LM Studio's `tool_use`, the catalog, or a
custom model's capabilities).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from jarvis.providers.registry import ModelEntry, ModelRegistry
from jarvis.providers.tool_calls import CHOICE_WORDS, to_ollama_call
from jarvis.providers.types import GenerationOptions, ToolCall, ToolSpec

from .models import Route

TOOLS = "function_calling"


class ToolsRefused(Exception):
    """Tools sent where they cannot go; ``named``: the request named a model without them."""

    def __init__(self, message: str, *, named: bool = False, where: str = "") -> None:
        super().__init__(message)
        self.named = named
        #: Which models can take tools, as a clause ("tool-capable models here: ...").
        self.where = where


class BadTools(ValueError):
    """The request's `tools`, `tool_choice` or a message's tool fields are malformed (one sentence)."""


def tools_capable(entry: ModelEntry) -> bool:
    if entry.provider_kind in ("ollama", "embedded"):
        # The backend's own word, whatever the catalog says about the name: Ollama's /api/show (it refuses
        # tools, 400, for a model without them); for a GGUF, a ChatML template (providers/embedded_tools.py).
        return TOOLS in entry.info.capabilities
    return TOOLS in entry.capabilities


def with_tools(body: dict[str, Any], options: GenerationOptions) -> GenerationOptions:
    """The request's options with its tools and tool_choice (OpenAI's and Ollama's shapes)."""
    raw = body.get("tools")
    choice = body.get("tool_choice")
    if raw is None and choice is None:
        return options
    if raw is not None and not isinstance(raw, list):
        raise BadTools('`tools` must be a list of {"type": "function", "function": {name, parameters}}.')
    specs = []
    for i, tool in enumerate(raw or ()):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or tool.get("type", "function") != "function":
            raise BadTools(
                f'tools[{i}] is not a function tool; each is {{"type": "function", "function": {{...}}}}.'
            )
        try:
            fields = {k: fn.get(k) for k in ("name", "description", "parameters") if fn.get(k) is not None}
            specs.append(ToolSpec.model_validate(fields))
        except ValidationError:
            raise BadTools(
                f"tools[{i}].function needs a `name` (letters, digits, _ and -, at most 64) and, if given,"
                " `parameters` as a JSON Schema object."
            ) from None
    return options.model_copy(update={"tools": tuple(specs) or None, "tool_choice": _choice(choice, specs)})


def _choice(choice: Any, specs: Sequence[ToolSpec]) -> str | None:
    if choice is None:
        return None
    if isinstance(choice, str) and choice in CHOICE_WORDS:
        return choice
    name = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    if not isinstance(name, str):
        raise BadTools(
            '`tool_choice` must be "auto", "none", "required" or {"type": "function", "function":'
            ' {"name": ...}}.'
        )
    if name not in {s.name for s in specs}:
        raise BadTools(f"`tool_choice` names the function '{name}', which is not among `tools`.")
    return name


class ToolTurns:
    """Reads the tool fields of a conversation's messages, in order: an assistant turn's `tool_calls`
    (OpenAI: arguments as text; Ollama: as an object) and a tool turn's `tool_call_id`. Ollama's calls have
    no id and its results name the function (`tool_name`): each such call gets an id, and a result is tied
    to the oldest unanswered call of its name, so every backend gets the pairing it expects."""

    def __init__(self) -> None:
        self._open: list[ToolCall] = []
        self._made: list[str] = []

    def fields(self, m: dict[str, Any], where: str) -> tuple[tuple[ToolCall, ...], str | None]:
        raw = m.get("tool_calls") or ()
        if not isinstance(raw, list | tuple):
            raise BadTools(f"{where}.tool_calls must be a list of calls.")
        calls = []
        for j, call in enumerate(raw):
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise BadTools(f"{where}.tool_calls[{j}] needs a `function` with a `name`.")
            arguments = fn.get("arguments")
            text = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
            made = str(call.get("id") or "") or f"call_{len(self._made)}"
            self._made.append(made)
            calls.append(ToolCall(made, fn["name"], text))
        self._open.extend(calls)
        given = m.get("tool_call_id")
        call_id = given if isinstance(given, str) else None
        if m.get("role") == "tool":
            name = m.get("tool_name") or m.get("name")
            match = next(
                (c for c in self._open if (c.id == call_id if call_id else not name or c.name == name)),
                None,
            )
            if match is not None:
                self._open.remove(match)
                call_id = call_id or match.id
        return tuple(calls), call_id


def any_tools_capable(registry: ModelRegistry, *, code: bool = False) -> bool:
    """Whether a virtual model can take tools (``code``: jarvis/code, which picks among code models)."""
    return any(
        e.status == "available" and tools_capable(e) and (not code or "code" in e.capabilities)
        for e in registry.models
    )


def tool_exclude(route: Route, registry: ModelRegistry, options: GenerationOptions) -> frozenset[str]:
    """The models a request with tools must not go to; raises ToolsRefused with one sentence."""
    if not options.tools or options.tool_choice == "none":
        return frozenset()
    able = sorted(e.id for e in registry.models if e.status == "available" and tools_capable(e))
    listed = ", ".join(able[:6]) if able else ""
    if route.kind == "chain":
        raise ToolsRefused(
            f"A chain ({route.requested}) does not pass tools through; send them to jarvis/auto or to a"
            f" tool-capable model{': ' + listed if listed else ''}."
        )
    if route.kind == "model":
        entry = registry.lookup(route.model_id or "")
        if entry is None or not tools_capable(entry):
            where = f"tool-capable models here: {listed}" if listed else "no model here can call tools"
            raise ToolsRefused(
                f"{route.model_id} cannot call tools (its backend does not offer them); {where}."
                " Send the tools to one of those, or send the request without tools.",
                named=True,
                where=where,
            )
    elif not any_tools_capable(registry, code=route.kind == "code"):
        kind = "code model" if route.kind == "code" else "model"
        raise ToolsRefused(
            f"No {kind} here can call tools: pull a tool-capable {kind} (Ollama's /api/show lists"
            ' "tools"), or send the request without tools.'
        )
    return frozenset(e.id for e in registry.models if e.id not in able)


def call_ids(calls: Sequence[ToolCall], run_id: str | None) -> list[str]:
    """Each call's id, made up from the run where the backend gave none (older Ollama)."""
    return [c.id or f"call_{run_id or 'jarvis'}_{i}" for i, c in enumerate(calls)]


def openai_calls(calls: Sequence[ToolCall], run_id: str | None) -> list[dict[str, Any]]:
    """OpenAI's shape, with the ``index`` its stream deltas carry (the non-stream message drops it)."""
    ids = call_ids(calls, run_id)
    return [
        {
            "index": i,
            "id": ids[i],
            "type": "function",
            "function": {"name": c.name, "arguments": c.arguments},
        }
        for i, c in enumerate(calls)
    ]


def ollama_calls(calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
    """Ollama's shape: arguments as an object, the position in ``function.index``."""
    return [to_ollama_call(c, i) for i, c in enumerate(calls)]


def calls_text(calls: Sequence[ToolCall]) -> str:
    """An answer that is calls alone, as History shows it (the step's output would otherwise be empty)."""
    return "\n".join(f"[called {c.name}({c.arguments})]" for c in calls)
