"""KeyStore: keys in the OS keyring or the encrypted file, and an index of them that never holds a key."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .backends import KDF_TIME_COST, SERVICE, KeyringLocked, encrypted_file, native_keyring
from .types import KeyEntry, last4

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
_PROVIDER = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
#: Names the other sources go by in listings; a stored key may not take them.
RESERVED = ("env", "config")


class KeyStoreError(Exception):
    """A sentence for the user: a bad name, a missing key, a locked or unreadable store."""


class KeyStore:
    """Adds, removes and reads keys; ``entries()`` reads only the index (no keyring, no passphrase).

    ``backend`` is "auto" (the OS keyring if there is one, else the encrypted file), "keyring" or
    "file". ``passphrase`` is asked for only when the encrypted file is opened.
    """

    def __init__(
        self,
        index_path: Path,
        file_path: Path,
        *,
        passphrase: Callable[[], str | None],
        backend: str = "auto",
        time_cost: int = KDF_TIME_COST,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.index_path = index_path
        self.file_path = file_path
        self._passphrase = passphrase
        self._backend_choice = backend
        self._time_cost = time_cost
        self._clock = clock
        self._opened: dict[str, Any] = {}
        self._native: Any | None = None
        self._native_probed = False
        self._given: str | None = None

    def unlock(self, passphrase: str) -> None:
        """Use ``passphrase`` for the encrypted file from now on (one typed in the workbench)."""
        self._given = passphrase or None
        self._opened.pop("file", None)

    @property
    def needs_passphrase(self) -> bool:
        """True when keys go to (or come from) the encrypted file and no passphrase is at hand yet."""
        uses_file = self.kind == "file" or any(e.store == "file" for e in self.entries())
        return uses_file and "file" not in self._opened and not (self._given or self._passphrase())

    # -- which store --------------------------------------------------------
    @property
    def kind(self) -> str:
        """Where a key added now goes: "keyring" or "file"."""
        if self._backend_choice in ("keyring", "file"):
            return self._backend_choice
        return "keyring" if self._native_keyring() is not None else "file"

    def _native_keyring(self) -> Any | None:
        if not self._native_probed:
            self._native_probed = True
            self._native = native_keyring()
        return self._native

    def _backend(self, kind: str) -> Any:
        if kind in self._opened:
            return self._opened[kind]
        if kind == "keyring":
            backend = self._native_keyring()
            if backend is None:
                raise KeyStoreError(
                    "This machine has no OS keyring to read the key from; add the key again"
                    " (it goes to the encrypted file)."
                )
        else:
            try:
                passphrase = self._given or self._passphrase()
                backend = encrypted_file(self.file_path, passphrase, time_cost=self._time_cost)
            except KeyringLocked as err:
                raise KeyStoreError(str(err)) from None
        self._opened[kind] = backend
        return backend

    # -- the index ------------------------------------------------------------
    def entries(self, provider: str | None = None) -> list[KeyEntry]:
        """Stored keys in the order they were added (the rotation order)."""
        try:
            data = json.loads(self.index_path.read_text(encoding="utf-8"))
            rows = [KeyEntry(**row) for row in data.get("keys", [])]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, TypeError) as err:
            raise KeyStoreError(
                f"The key index {self.index_path} cannot be read ({err}); remove it and add the keys again."
            ) from None
        return [e for e in rows if provider is None or e.provider == provider]

    def _save(self, entries: list[KeyEntry]) -> None:
        self.index_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.index_path.with_suffix(".tmp")
        # Owner-only like the key file: names and last characters are not secret, but are private.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"keys": [e.as_json() for e in entries]}, f, indent=2)
        os.replace(tmp, self.index_path)

    # -- keys -----------------------------------------------------------------
    def next_name(self, provider: str) -> str:
        taken = {e.name for e in self.entries(provider)}
        if "default" not in taken:
            return "default"
        return next(f"key{n}" for n in range(2, 10_000) if f"key{n}" not in taken)

    def add(self, provider: str, name: str, secret: str) -> KeyEntry:
        """Store ``secret`` under provider/name (replacing a key of that name)."""
        if not _PROVIDER.fullmatch(provider):
            raise KeyStoreError(
                f"'{provider}' is not a provider prefix; use the start of the model id, e.g. openai."
            )
        if not _NAME.fullmatch(name) or name in RESERVED:
            raise KeyStoreError(
                f"'{name}' cannot name a key: use up to 40 letters, digits, '.', '_' or '-'"
                f" (not {' or '.join(RESERVED)})."
            )
        secret = secret.strip()
        if not secret:
            raise KeyStoreError("The key is empty; paste the key when asked (nothing was stored).")
        if any(c.isspace() for c in secret):
            raise KeyStoreError("The key contains spaces or line breaks; paste just the key.")
        kind = self.kind
        self._backend(kind).set_password(SERVICE, f"{provider}/{name}", secret)
        entry = KeyEntry(provider, name, last4(secret), self._clock(), kind)
        others = [e for e in self.entries() if (e.provider, e.name) != (provider, name)]
        self._save([*others, entry])
        return entry

    def remove(self, provider: str, name: str) -> KeyEntry:
        entries = self.entries()
        entry = next((e for e in entries if (e.provider, e.name) == (provider, name)), None)
        if entry is None:
            raise KeyStoreError(
                f"No stored key named '{name}' for {provider}; `jarvis keys list` shows them."
            )
        from keyring.errors import PasswordDeleteError

        try:
            self._backend(entry.store).delete_password(SERVICE, f"{provider}/{name}")
        except PasswordDeleteError:
            pass  # already gone from the keyring: dropping it from the index is all that is left
        self._save([e for e in entries if e is not entry])
        return entry

    def secret(self, entry: KeyEntry) -> str | None:
        """The key itself, or None when its keyring no longer has it."""
        secret = self._backend(entry.store).get_password(SERVICE, f"{entry.provider}/{entry.name}")
        return str(secret) if secret is not None else None
