"""Which model a served request names: a registry model (by id, or by its bare name as editors write it), or
one of the virtual models (`jarvis/auto`, `jarvis/code`, `jarvis/chain/<name>`)."""

from __future__ import annotations

from dataclasses import dataclass

from jarvis.providers.registry import ModelEntry, ModelRegistry
from jarvis.providers.types import Infill, Message

AUTO = "jarvis/auto"
CODE = "jarvis/code"
CHAIN_PREFIX = "jarvis/chain/"


@dataclass(frozen=True)
class Route:
    """``kind``: model (a real model, ``model_id``), auto, code, or chain (``chain``)."""

    requested: str
    kind: str
    model_id: str | None = None
    chain: str | None = None


class UnknownModel(Exception):
    """The request names no model this server knows; the message says what it does know."""


def virtual_ids(chain_names: list[str]) -> list[str]:
    return [AUTO, CODE, *(CHAIN_PREFIX + name for name in sorted(chain_names))]


def resolve(requested: str, registry: ModelRegistry, chain_names: list[str]) -> Route:
    """Raises UnknownModel with one sentence."""
    name = requested.strip()
    if not name:
        raise UnknownModel("The request names no model: set `model` (GET /v1/models lists them).")
    if name in (AUTO, "jarvis", "jarvis:latest", "jarvis/auto:latest"):
        return Route(requested, "auto")
    if name in (CODE, "jarvis/code:latest"):
        return Route(requested, "code")
    if name.startswith(CHAIN_PREFIX):
        chain = name.removeprefix(CHAIN_PREFIX).removesuffix(":latest")
        if chain not in chain_names:
            known = ", ".join(sorted(chain_names))
            raise UnknownModel(f"There is no chain named '{chain}'. Known chains: {known}.")
        return Route(requested, "chain", chain=chain)
    entry = find_entry(name, registry)
    if entry is None:
        raise UnknownModel(
            f"The model '{name}' is not known here. GET /v1/models (or /api/tags) lists the models"
            " this server offers."
        )
    return Route(requested, "model", model_id=entry.id)


def find_entry(name: str, registry: ModelRegistry) -> ModelEntry | None:
    """By id (``ollama/qwen2.5-coder:7b``), with Ollama's implied ``:latest``, or by the bare name when one
    provider alone has it (``qwen2.5-coder:7b``)."""
    for candidate in (name, name.removesuffix(":latest"), name + ":latest"):
        entry = registry.lookup(candidate)
        if entry is not None:
            return entry
    bare = name.removesuffix(":latest")
    same = [e for e in registry.models if e.name.removesuffix(":latest") == bare]
    return same[0] if len(same) == 1 else None


def raw_capable(entry: ModelEntry, registry: ModelRegistry) -> bool:
    """Its provider takes raw completions (no chat template): local backends do, cloud APIs do not."""
    provider = registry.providers.get(entry.provider)
    return provider is not None and provider.raw_completion


def fim_capable(entry: ModelEntry) -> bool:
    """The provider says so: Ollama's "insert" capability, FIM tokens in an embedded GGUF's vocabulary, or
    (for OpenAI-compatible servers, which cannot tell) a model family whose FIM template is known."""
    return "fim" in entry.capabilities


class FimRefused(Exception):
    """``named``: the request named a model that cannot fill in the middle (else: none here can)."""

    def __init__(self, message: str, *, named: bool = False) -> None:
        super().__init__(message)
        self.named = named


@dataclass(frozen=True)
class FimRequest:
    """A fill-in-the-middle request for either API: the infill, how it reads as messages (History, task
    analysis, token estimate), and the models it must not go to."""

    infill: Infill
    messages: list[Message]
    exclude: frozenset[str]


def fim_request(route: Route, registry: ModelRegistry, prefix: str, suffix: str) -> FimRequest:
    """The request; raises FimRefused with one sentence when the named model cannot fill in the middle
    or no model here can."""
    fim = {e.id for e in registry.models if fim_capable(e)}
    if route.kind == "model":
        entry = registry.lookup(route.model_id or "")
        if entry is None or not fim_capable(entry):
            raise FimRefused(
                f"{route.model_id} cannot fill in the middle (it has no FIM tokens, or its backend does"
                " not say it has); ask for a FIM-trained code model such as a qwen2.5-coder, or"
                " jarvis/auto, when sending a suffix.",
                named=True,
            )
    elif route.kind == "chain":
        raise FimRefused(
            "A chain cannot fill in the middle: send the suffix to jarvis/auto, jarvis/code or a"
            " FIM-trained model."
        )
    elif not fim:
        raise FimRefused(
            "No model here can fill in the middle (a `suffix` was sent): install a FIM-trained code model"
            " such as qwen2.5-coder, or send the prompt without a suffix."
        )
    infill = Infill(prefix, suffix)
    # Every candidate, fallbacks included, must fill in the middle: the others are excluded.
    exclude = frozenset(e.id for e in registry.models if e.id not in fim)
    return FimRequest(infill, infill.as_messages(), exclude)


def raw_request(route: Route, registry: ModelRegistry, prompt: str) -> FimRequest | None:
    """A prompt without a suffix as a raw completion (no chat template: editors send their own FIM
    prompts this way), going only to models whose backend takes one; None when the route cannot (a
    chain, or a named model of a backend without raw completions), so the caller chats instead."""
    if route.kind == "chain":
        return None
    if route.kind == "model":
        entry = registry.lookup(route.model_id or "")
        if entry is None or not raw_capable(entry, registry):
            return None
    exclude = frozenset(e.id for e in registry.models if not raw_capable(e, registry))
    if route.kind != "model" and len(exclude) == len(registry.models):
        return None
    infill = Infill(prompt)
    return FimRequest(infill, infill.as_messages(), exclude)
