"""Where a provider's keys come from, in order: the environment (wins), the key store, the config file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .store import KeyStore, KeyStoreError
from .types import KEY_ENV, NamedKey, last4


class KeySources:
    """Reads keys on demand: ``available`` looks only at names (no keyring, no passphrase);
    ``load`` reads the secrets and keeps a sentence in ``problem(prefix)`` when the store could not."""

    def __init__(
        self,
        env: Mapping[str, str],
        config_keys: Mapping[str, str] | None = None,
        store: KeyStore | None = None,
    ) -> None:
        self._env = env
        self._config = {k: v for k, v in (config_keys or {}).items() if v}
        self.store = store
        self._problems: dict[str, str] = {}

    def _env_key(self, prefix: str) -> str | None:
        var = KEY_ENV.get(prefix)
        return (self._env.get(var) or None) if var else None

    def _stored(self, prefix: str) -> list[Any]:
        if self.store is None:
            return []
        try:
            return self.store.entries(prefix)
        except KeyStoreError as err:
            self._problems[prefix] = str(err)
            return []

    def available(self, prefix: str) -> bool:
        return bool(self._env_key(prefix) or prefix in self._config or self._stored(prefix))

    def load(self, prefix: str) -> list[NamedKey]:
        """Every key for ``prefix``, in rotation order; blocking (a keyring may take a second)."""
        keys: list[NamedKey] = []
        env = self._env_key(prefix)
        if env:
            keys.append(NamedKey(prefix, "env", "env", env))
        for entry in self._stored(prefix):
            try:
                secret = self.store.secret(entry) if self.store else None
            except KeyStoreError as err:
                self._problems[prefix] = str(err)
                break  # the same store will not open for the next entry either
            if secret:
                keys.append(NamedKey(prefix, entry.name, entry.store, secret))
            else:
                self._problems[prefix] = (
                    f"The key '{entry.name}' for {prefix} is in the index but no longer in the {entry.store};"
                    f" add it again with `jarvis keys add {prefix} --name {entry.name}`."
                )
        if prefix in self._config:
            keys.append(NamedKey(prefix, "config", "config", self._config[prefix]))
        return keys

    def problem(self, prefix: str) -> str:
        return self._problems.get(prefix, "")

    def config_warning(self) -> str | None:
        """A sentence when the config file holds keys in plain text."""
        if not self._config:
            return None
        names = sorted(self._config)
        first = names[0]
        return (
            f"Your config file holds cloud keys in plain text ([cloud.api_keys] {', '.join(names)});"
            f" move each into the key store with `jarvis keys add {first}` and delete it from the file."
        )

    def listing(self) -> list[dict[str, Any]]:
        """Every key from every source, without secrets: provider, name, last4, source, added_at."""
        rows: list[dict[str, Any]] = []
        seen_vars: set[str] = set()
        for prefix, var in KEY_ENV.items():
            value = self._env.get(var)
            if value and var not in seen_vars:
                seen_vars.add(var)
                rows.append(
                    {
                        "provider": prefix,
                        "name": "env",
                        "last4": last4(value),
                        "source": "env",
                        "added_at": None,
                        "variable": var,
                    }
                )
        if self.store is not None:
            for e in self.store.entries():
                rows.append(
                    {
                        "provider": e.provider,
                        "name": e.name,
                        "last4": e.last4,
                        "source": e.store,
                        "added_at": e.added_at,
                    }
                )
        for prefix, value in sorted(self._config.items()):
            rows.append(
                {
                    "provider": prefix,
                    "name": "config",
                    "last4": last4(value),
                    "source": "config",
                    "added_at": None,
                }
            )
        return rows
