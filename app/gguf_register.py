"""Adding a GGUF file to the embedded provider: a line under `[embedded.models]` in the user's config.

As with custom models (app/custom_models.py), the file stays the user's: the line goes under an
existing `[embedded.models]` table or into a new one appended at the end; comments and order survive,
and the whole file is validated again before it replaces the old one.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from .config import ConfigError, load_config, parse_config

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")


class GGUFRegistrationError(Exception):
    """A sentence for the user: why the file was not added."""


def suggested_name(path: Path, header_name: object = None) -> str:
    """A model name from the GGUF's general.name, else the file name: lower case, no spaces."""
    base = str(header_name) if header_name else path.stem
    return re.sub(r"[^a-z0-9._:-]+", "-", base.lower()).strip("-") or "model"


def with_model(text: str, name: str, path: Path) -> str:
    """The config text with ``name = "path"`` under [embedded.models]."""
    line = f"{json.dumps(name)} = {json.dumps(str(path))}"
    lines = text.splitlines()
    for i, raw in enumerate(lines):
        if raw.strip() == "[embedded.models]":
            return "\n".join(lines[: i + 1] + [line] + lines[i + 1 :]) + "\n"
    sep = "" if not text or text.endswith("\n") else "\n"
    return f"{text}{sep}\n[embedded.models]\n{line}\n"


def register_gguf(config_path: Path, name: str, path: Path) -> None:
    """Save the file under ``name``; refuses a taken name or a config it cannot extend."""
    if not _NAME.match(name):
        raise GGUFRegistrationError(
            f"'{name}' cannot name a model: use letters, digits and . _ : - (e.g. qwen2.5-coder-1.5b)."
        )
    try:
        current = load_config(config_path)
    except ConfigError as err:
        raise GGUFRegistrationError(f"{err} Fix it first: the model would be added to it.") from None
    if name in current.embedded.models:
        raise GGUFRegistrationError(f"embedded/{name} is already in {config_path}; pick another name.")
    old = config_path.read_text(encoding="utf-8") if config_path.exists() else ""
    new = with_model(old, name, path)
    try:
        saved = parse_config(new, str(config_path))
    except ConfigError as err:
        raise GGUFRegistrationError(
            f"Not saved: {err} (an [embedded] table with models = {{...}} inline cannot take another line;"
            " move them under [embedded.models])."
        ) from None
    if saved.embedded.models.get(name) != str(path):
        raise GGUFRegistrationError(f"Not saved: {config_path} would not read the new line back.")
    config_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=config_path.parent, prefix=".config-", suffix=".toml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(new)
        os.replace(tmp, config_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
