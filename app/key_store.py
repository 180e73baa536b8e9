"""Builds the key store and the key sources from the user's paths and environment."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping

from jarvis.providers.keys.sources import KeySources
from jarvis.providers.keys.store import KeyStore, KeyStoreError

from .config import Config
from .paths import Paths

#: The encrypted key file's passphrase (only where there is no OS keyring).
PASSPHRASE_ENV = "JARVIS_KEYS_PASSPHRASE"
#: "keyring" or "file" to choose the store instead of letting Jarvis pick ("auto").
BACKEND_ENV = "JARVIS_KEYS_BACKEND"
BACKENDS = ("auto", "keyring", "file")


def _passphrase(paths: Paths, env: Mapping[str, str], ask: bool) -> Callable[[], str | None]:
    """From the environment, else asked once on the terminal when ``ask`` (the CLI), else None."""
    asked: list[str] = []

    def get() -> str | None:
        if env.get(PASSPHRASE_ENV):
            return env[PASSPHRASE_ENV]
        if asked:
            return asked[0]
        if not (ask and sys.stdin.isatty()):
            return None
        import getpass

        if paths.keys_file.exists():
            value = getpass.getpass(f"Passphrase for {paths.keys_file}: ")
        else:
            print(f"No OS keyring here: keys go to the encrypted file {paths.keys_file}.", file=sys.stderr)
            value = getpass.getpass("Choose a passphrase for it: ")
            if value and getpass.getpass("The same passphrase again: ") != value:
                raise KeyStoreError("The two passphrases differ; nothing was stored.")
        asked.append(value)
        return value or None

    return get


def key_store(paths: Paths, env: Mapping[str, str] | None = None, *, ask: bool = False) -> KeyStore:
    """The user's key store; raises KeyStoreError for a JARVIS_KEYS_BACKEND it does not know."""
    env = os.environ if env is None else env
    backend = env.get(BACKEND_ENV) or "auto"
    if backend not in BACKENDS:
        raise KeyStoreError(
            f"{BACKEND_ENV}={backend} is not one of {', '.join(BACKENDS)}; unset it or fix it."
        )
    return KeyStore(
        paths.keys_index, paths.keys_file, passphrase=_passphrase(paths, env, ask), backend=backend
    )


def key_sources(
    config: Config, paths: Paths, env: Mapping[str, str] | None = None, *, ask: bool = False
) -> KeySources:
    """Environment first, then the store, then the config's plain api_keys (with a warning where shown)."""
    env = os.environ if env is None else env
    try:
        store: KeyStore | None = key_store(paths, env, ask=ask)
    except KeyStoreError:
        store = None  # a bad JARVIS_KEYS_BACKEND: `jarvis keys` says so; runs still use env and config
    return KeySources(env, config.cloud.api_keys, store)
