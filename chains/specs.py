"""Chain specs are data: TOML files shipped in assets/chains and the user's own in the config dir."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jarvis.providers.types import GenerationOptions


class Selector(BaseModel):
    """How a role picks its model: an explicit id, or a capability plus a strategy (or a routing policy)."""

    model_config = ConfigDict(extra="forbid")
    model: str | None = None
    capability: str | None = None
    strategy: Literal["performance", "quality", "cost", "reliability", "balanced"] | None = None


class RoleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    kind: Literal["generate", "review"] = "generate"
    select: Selector = Field(default_factory=Selector)
    options: GenerationOptions = Field(default_factory=GenerationOptions)
    system: str = ""
    prompt: str = "{task}"
    #: Used instead of ``prompt`` when the reviewer sent the work back.
    revise_prompt: str | None = None


class ChainSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    roles: list[RoleSpec]
    #: Review → revise rounds allowed after the first draft.
    max_rounds: int = Field(default=0, ge=0, le=5)
    source: str = "shipped"

    @property
    def reviewer(self) -> RoleSpec | None:
        return next((r for r in self.roles if r.kind == "review"), None)


class ChainError(Exception):
    """A chain spec that cannot be used; the message names the file."""


def parse_chain(text: str, origin: str) -> ChainSpec:
    try:
        data = tomllib.loads(text)
        spec = ChainSpec.model_validate({**data, "source": origin})
    except tomllib.TOMLDecodeError as err:
        raise ChainError(f"The chain file {origin} is not valid TOML: {err}.") from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ChainError(f"The chain file {origin} has a problem at '{where}': {first['msg']}.") from None
    if not spec.roles:
        raise ChainError(f"The chain file {origin} defines no roles.")
    return spec


@dataclass
class ChainLibrary:
    chains: dict[str, ChainSpec] = field(default_factory=dict)
    #: User chain files that could not be read, as sentences.
    problems: list[str] = field(default_factory=list)

    def get(self, name: str) -> ChainSpec:
        if name not in self.chains:
            raise ChainError(f"There is no chain named '{name}'. Known chains: {', '.join(sorted(self.chains))}.")
        return self.chains[name]

    @classmethod
    def load(cls, user_dir: Path | None = None) -> "ChainLibrary":
        lib = cls()
        for entry in sorted(resources.files("jarvis.assets").joinpath("chains").iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".toml"):
                spec = parse_chain(entry.read_text(encoding="utf-8"), f"shipped:{entry.name}")
                lib.chains[spec.name] = spec
        if user_dir and user_dir.is_dir():
            for path in sorted(user_dir.glob("*.toml")):
                try:
                    spec = parse_chain(path.read_text(encoding="utf-8"), str(path))
                except (ChainError, OSError, UnicodeDecodeError) as err:
                    lib.problems.append(str(err))
                    continue
                lib.chains[spec.name] = spec  # a user chain may replace a shipped one
        return lib
