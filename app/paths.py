"""Where Jarvis keeps its config and data: XDG by default, all of it under JARVIS_HOME when set.

Every file name under the user's directories is spelled here and nowhere else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    config_file: Path
    data_dir: Path

    @property
    def database(self) -> Path:
        return self.data_dir / "jarvis.db"

    @property
    def user_chains(self) -> Path:
        return self.config_file.parent / "chains"

    @property
    def policies_file(self) -> Path:
        """Routing policies, written by `jarvis policy` and safe to edit by hand."""
        return self.config_file.parent / "policies.toml"

    @property
    def tui_settings(self) -> Path:
        """The workbench's remembered choices (theme, last chain...)."""
        return self.data_dir / "tui.json"

    @property
    def verify_notice(self) -> Path:
        """Exists once the one-time notice on how verified runs confine generated code was shown."""
        return self.data_dir / "verify-notice-shown"

    @property
    def model_details(self) -> Path:
        """Ollama's per-model details kept between runs (app/details_cache.py)."""
        return self.data_dir / "model-details.json"

    @property
    def model_memory(self) -> Path:
        """What Ollama said its loaded models hold (/api/ps sizes), for the memory estimate."""
        return self.data_dir / "model-memory.json"

    @property
    def edit_backups(self) -> Path:
        """Files as they were before `jarvis apply` changed them, one folder per run (for --undo)."""
        return self.data_dir / "edit-backups"

    @property
    def keys_index(self) -> Path:
        """Stored API keys by provider and name, with their last 4 characters: never a key."""
        return self.data_dir / "keys.json"

    @property
    def host_slots(self) -> Path:
        """Lock files of the Ollama/LM Studio slots every jarvis process of this user shares
        (chains/host_slots.py): a workbench and a separate `jarvis serve` take turns on them."""
        return self.data_dir / "slots"

    @property
    def keys_file(self) -> Path:
        """The encrypted key file, used where the machine has no OS keyring (keyrings.cryptfile)."""
        return self.data_dir / "keys.cfg"


def resolve_paths(env: Mapping[str, str] | None = None) -> Paths:
    env = os.environ if env is None else env
    home = env.get("JARVIS_HOME")
    if home:
        root = Path(home).expanduser()
        return Paths(config_file=root / "config.toml", data_dir=root)
    user_home = Path(env.get("HOME") or Path.home())
    config_home = Path(env.get("XDG_CONFIG_HOME") or user_home / ".config")
    data_home = Path(env.get("XDG_DATA_HOME") or user_home / ".local" / "share")
    return Paths(config_file=config_home / "jarvis" / "config.toml", data_dir=data_home / "jarvis")
