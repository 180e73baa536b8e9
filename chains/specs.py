"""Chain specs are data: TOML files shipped in assets/chains and the user's own in the config dir."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from jarvis.providers.types import GenerationOptions

from .toml_errors import KeyLines, NotUTF8, decode, syntax_error, validation_problems
from .verify.settings import VerifySettings, coerce_verify


class Selector(BaseModel):
    """How a role picks its model: an explicit id, or a capability plus a strategy (or a routing policy)."""

    model_config = ConfigDict(extra="forbid")
    model: str | None = None
    capability: str | None = None
    strategy: Literal["performance", "quality", "cost", "reliability", "balanced"] | None = None


Produces = Literal["plan", "code", "review", "text"]


class RoleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    kind: Literal["generate", "review"] = "generate"
    #: What the output is: a plan fills {plan}, code fills {code} (and is what a reviewer reviews and
    #: sends back), a review decides the revise loop. Inferred when absent (see ChainSpec).
    produces: Produces | None = None
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
    #: Run the code role's candidates in the sandbox (`verify = true`, or a `[verify]` table of settings).
    verify: VerifySettings | None = None
    source: str = "shipped"

    @field_validator("verify", mode="before")
    @classmethod
    def _verify_switch(cls, value: object) -> object:
        return coerce_verify(value)

    @model_validator(mode="after")
    def _infer_produces(self) -> ChainSpec:
        """Chains written before roles said what they produce keep working: a review role reviews, the
        role just before a reviewer writes the code, the first role writes the plan a {plan} asks for."""
        roles = self.roles
        for role in roles:
            if role.produces is None and role.kind == "review":
                role.produces = "review"
            elif role.produces == "review":
                role.kind = "review"
        review_at = next((i for i, r in enumerate(roles) if r.produces == "review"), None)
        has_code = any(r.produces == "code" for r in roles)
        if review_at and roles[review_at - 1].produces is None and not has_code:
            roles[review_at - 1].produces = "code"
        wants_plan = any("{plan}" in r.prompt + (r.revise_prompt or "") for r in roles)
        has_plan = any(r.produces == "plan" for r in roles)
        if roles and wants_plan and roles[0].produces is None and not has_plan:
            roles[0].produces = "plan"
        for role in roles:
            role.produces = role.produces or "text"
        return self

    @property
    def reviewer(self) -> RoleSpec | None:
        return next((r for r in self.roles if r.produces == "review"), None)

    @property
    def answer_role(self) -> RoleSpec:
        """Whose output is the answer: in a reviewed chain the (latest) code, else the last role's output."""
        if self.reviewer is None:
            return self.roles[-1]
        coders = [r for r in self.roles if r.produces == "code"]
        return (coders or [r for r in self.roles if r.produces != "review"])[-1]


class ChainError(Exception):
    """A chain spec that cannot be used; the message names the file."""


def parse_chain(text: str, origin: str) -> ChainSpec:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ChainError(f"The chain file {syntax_error(origin, err, text)}") from None
    try:
        spec = ChainSpec.model_validate({**data, "source": origin})
    except ValidationError as err:
        problems = "; ".join(validation_problems(text, err))
        raise ChainError(f"The chain file {origin} has a problem: {problems}.") from None
    if not spec.roles:
        line = KeyLines.scan(text).line_of(("roles",))
        raise ChainError(f"The chain file {origin}{f' line {line}' if line else ''} defines no roles.")
    return spec


@dataclass
class ChainLibrary:
    chains: dict[str, ChainSpec] = field(default_factory=dict)
    #: User chain files that could not be read, as sentences.
    problems: list[str] = field(default_factory=list)
    #: The same sentences by the chain names a broken file would have answered to (its stem, its `name`).
    broken: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> ChainSpec:
        if name not in self.chains:
            if name in self.broken:
                raise ChainError(f"The chain '{name}' cannot be used: {self.broken[name]}")
            known = ", ".join(sorted(self.chains))
            raise ChainError(f"There is no chain named '{name}'. Known chains: {known}.")
        return self.chains[name]

    @classmethod
    def load(cls, user_dir: Path | None = None) -> ChainLibrary:
        lib = cls()
        shipped = resources.files("jarvis.assets").joinpath("chains")
        for entry in sorted(shipped.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".toml"):
                spec = parse_chain(entry.read_text(encoding="utf-8"), f"shipped:{entry.name}")
                lib.chains[spec.name] = spec
        if user_dir and user_dir.is_dir():
            for path in sorted(user_dir.glob("*.toml")):
                try:
                    spec = parse_chain(decode(path.read_bytes(), str(path)), str(path))
                except NotUTF8 as err:
                    lib._broken(path, f"The chain file {err}")
                    continue
                except (ChainError, OSError) as err:
                    lib._broken(path, str(err))
                    continue
                lib.chains[spec.name] = spec  # a user chain may replace a shipped one
        return lib

    def _broken(self, path: Path, sentence: str) -> None:
        self.problems.append(sentence)
        names = {path.stem}
        try:
            name = tomllib.loads(path.read_text(encoding="utf-8")).get("name")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            name = None
        if isinstance(name, str):
            names.add(name)
        for name in names:
            self.broken.setdefault(name, sentence)
