"""Routing policies (TOML): conditions on task type, language and role that pick models and a strategy."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .toml_errors import NotUTF8, decode, syntax_error, validation_problems

Strategy = Literal["performance", "quality", "cost", "reliability", "balanced"]


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    task_type: list[str] = Field(default_factory=list)
    language: list[str] = Field(default_factory=list)
    role: list[str] = Field(default_factory=list)
    prefer: list[str] = Field(default_factory=list)
    fallbacks: list[str] = Field(default_factory=list)
    strategy: Strategy | None = None
    priority: int = 0

    def matches(self, task_type: str | None, language: str | None, role: str | None) -> bool:
        return (
            (not self.task_type or task_type in self.task_type)
            and (not self.language or language in self.language)
            and (not self.role or role in self.role)
        )


class _PolicyFile(BaseModel):
    """The file as a whole, so that a validation error's location is a key path in it (policies[1].prefer)."""

    model_config = ConfigDict(extra="forbid")
    policies: list[Policy] = Field(default_factory=list)


class PolicyError(Exception):
    """A policies file that cannot be used; the message names the file and the line."""


def load_policies(path: Path) -> list[Policy]:
    """The policies in ``path`` (the caller knows where: app/paths.py), none when it does not exist."""
    if not path.exists():
        return []
    try:
        text = decode(path.read_bytes(), str(path))
        data = tomllib.loads(text)
    except OSError as err:
        raise PolicyError(f"Cannot read {path}: {err.strerror}.") from None
    except NotUTF8 as err:
        raise PolicyError(str(err)) from None
    except tomllib.TOMLDecodeError as err:
        raise PolicyError(syntax_error(str(path), err, text)) from None
    try:
        return _PolicyFile.model_validate(data).policies
    except ValidationError as err:
        raise PolicyError(f"{path} has a problem: {'; '.join(validation_problems(text, err))}.") from None


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in items) + "]"


def save_policies(path: Path, policies: list[Policy]) -> None:
    lines = ["# Routing policies for Jarvis: edited by `jarvis policy`, safe to edit by hand.", ""]
    for p in sorted(policies, key=lambda p: -p.priority):
        lines.append("[[policies]]")
        lines.append(f"name = {_toml_list([p.name])[1:-1]}")
        for key in ("task_type", "language", "role", "prefer", "fallbacks"):
            value = getattr(p, key)
            if value:
                lines.append(f"{key} = {_toml_list(value)}")
        if p.strategy:
            lines.append(f'strategy = "{p.strategy}"')
        lines.append(f"priority = {p.priority}")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    tmp.replace(path)


def matching_policy(
    policies: list[Policy], task_type: str | None, language: str | None, role: str | None
) -> Policy | None:
    hits = [p for p in policies if p.matches(task_type, language, role)]
    return max(hits, key=lambda p: p.priority) if hits else None
