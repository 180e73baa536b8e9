"""Registering a custom model: a `[[custom_models]]` table appended to the user's config file.

The file stays the user's: nothing in it is rewritten, comments and order survive; the new table is
appended, and the whole file is validated again before it replaces the old one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .config import ConfigError, CustomModelConfig, load_config, parse_config

CAPABILITIES = ("chat", "completion", "code", "embeddings", "function_calling", "vision", "reasoning")


class RegistrationError(Exception):
    """A sentence for the user: what is wrong with the model they described."""


def parse_fields(fields: dict[str, str]) -> CustomModelConfig:
    """Form text → a validated custom model; blank means "not given"."""
    model_id = fields.get("id", "").strip()
    provider, _, name = model_id.partition("/")
    if not provider or not name:
        raise RegistrationError("The id is provider/name, e.g. ollama/my-finetune:latest.")
    data: dict[str, Any] = {"id": model_id}
    listed = fields.get("capabilities", "").replace(" ", ",").split(",")
    caps = [c.strip().lower() for c in listed if c.strip()]
    unknown = [c for c in caps if c not in CAPABILITIES]
    if unknown:
        raise RegistrationError(f"Unknown capability {', '.join(unknown)}; use {', '.join(CAPABILITIES)}.")
    data["capabilities"] = caps
    for key, label in (
        ("context_length", "Context length"),
        ("cost_in_per_1k", "Price per 1K prompt tokens"),
        ("cost_out_per_1k", "Price per 1K completion tokens"),
    ):
        text = fields.get(key, "").strip().replace("_", "").lstrip("$")
        if not text:
            continue
        try:
            data[key] = int(text) if key == "context_length" else float(text)
        except ValueError:
            raise RegistrationError(f"{label} must be a number; got {text!r}.") from None
    data["tags"] = [t.strip() for t in fields.get("tags", "").split(",") if t.strip()]
    data["description"] = fields.get("description", "").strip()
    try:
        return CustomModelConfig.model_validate(data)
    except ValidationError as err:
        e = err.errors()[0]
        raise RegistrationError(f"{'.'.join(str(k) for k in e['loc'])}: {e['msg']}.") from None


def as_toml(model: CustomModelConfig) -> str:
    # JSON strings, numbers and string lists are valid TOML values (escapes included).
    lines = ["", "[[custom_models]]", f"id = {json.dumps(model.id)}"]
    if model.capabilities:
        lines.append(f"capabilities = {json.dumps(model.capabilities)}")
    for key in ("context_length", "cost_in_per_1k", "cost_out_per_1k"):
        value = getattr(model, key)
        if value is not None:
            lines.append(f"{key} = {value}")
    if model.tags:
        lines.append(f"tags = {json.dumps(model.tags)}")
    if model.description:
        lines.append(f"description = {json.dumps(model.description, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def register(config_path: Path, model: CustomModelConfig) -> None:
    """Append the model to the config file; refuses ids already there and never leaves a broken file."""
    try:
        current = load_config(config_path)
    except ConfigError as err:
        raise RegistrationError(f"{err} Fix it first: the new model would be appended to it.") from None
    if any(c.id == model.id for c in current.custom_models):
        raise RegistrationError(f"{model.id} is already registered in {config_path}; edit it there.")
    old = config_path.read_text(encoding="utf-8") if config_path.exists() else ""
    new = old + ("" if not old or old.endswith("\n") else "\n") + as_toml(model)
    try:  # the whole file still reads before it replaces the old one (errors name the real file)
        parse_config(new, str(config_path))
    except ConfigError as err:
        raise RegistrationError(f"Not saved: {err}") from None
    config_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=config_path.parent, prefix=".config-", suffix=".toml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(new)
        os.replace(tmp, config_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
