"""Which model a served request names: a registry model (by id, or by its bare name as editors write it), or
one of the virtual models (`jarvis/auto`, `jarvis/code`, `jarvis/chain/<name>`)."""

from __future__ import annotations

from dataclasses import dataclass

from jarvis.providers.registry import ModelEntry, ModelRegistry

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


#: Model families trained for fill-in-the-middle (their names as registries spell them).
FIM_FAMILIES = ("coder", "starcoder", "codellama", "codestral", "codegemma", "codeqwen", "deepseek-coder")


def fim_capable(entry: ModelEntry) -> bool:
    """Ollama says so ("insert"); otherwise the name says a FIM-trained code family."""
    if "insert" in entry.info.details.get("capabilities", ()) or "fim" in entry.capabilities:
        return True
    name = entry.name.lower()
    return any(family in name for family in FIM_FAMILIES)
