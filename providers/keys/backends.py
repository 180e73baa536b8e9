"""Which keyring holds the keys: a native OS keyring when there is one, else an encrypted file.

We never call ``keyring.set_keyring()``: the chosen backend is an instance the store holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: The service name keys are filed under in the OS keyring; the user name is "provider/name".
SERVICE = "jarvis-workbench"

#: Backends that are not an OS keyring: the chainer (it wraps whatever else is installed, which
#: here includes keyrings.cryptfile's *plain-text* PlaintextKeyring), the null and fail ones.
_NOT_NATIVE = ("keyring.backends.chainer", "keyring.backends.fail", "keyring.backends.null")


#: Argon2id passes for the encrypted file: RFC 9106's recommendation for 64 MiB of memory (t=3). The
#: library's own default (15) took 0.7 s per key on an idle 2-core machine and 3-4 s under load, and
#: each key is a separate derivation. The cost is not stored in the file: never change it for one.
KDF_TIME_COST = 3


class KeyringLocked(Exception):
    """The encrypted file cannot be opened: no passphrase, or the wrong one. The message says which."""


def native_keyring() -> Any | None:
    """The best OS keyring (Secret Service, macOS Keychain, Windows Credential Locker...), or None.

    ``get_all_keyring`` lists only backends whose ``priority`` check passed (a Secret Service
    without a D-Bus session is left out); plug-ins from other packages (keyrings.*) are not an
    OS keyring, so a headless box gets None and the encrypted file instead.
    """
    from keyring.backend import get_all_keyring

    native = [
        b
        for b in get_all_keyring()
        if type(b).__module__.startswith("keyring.backends.")
        and not type(b).__module__.startswith(_NOT_NATIVE)
        and b.priority >= 1
    ]
    return max(native, key=lambda b: b.priority, default=None)


def encrypted_file(path: Path, passphrase: str | None, *, time_cost: int = KDF_TIME_COST) -> Any:
    """keyrings.cryptfile's Argon2 + AES-GCM file at ``path``, unlocked with ``passphrase``.

    The first use creates the file (mode 600) and stores a reference value encrypted with the
    passphrase; later uses check the passphrase against it. ``time_cost``: Argon2's passes (64 MiB
    each); one file needs one cost throughout.
    """
    if not passphrase and not path.exists():
        # The first key on a box without an OS keyring: nothing is locked yet, a passphrase is to be chosen.
        raise KeyringLocked(
            f"There is no OS keyring here, so keys go to the encrypted file {path}; set"
            " JARVIS_KEYS_PASSPHRASE to the passphrase it should have (`jarvis keys add` in a terminal"
            " asks for one, the workbench's Keys panel has a field for it)."
        )
    if not passphrase:
        raise KeyringLocked(
            f"The stored keys are encrypted in {path}; set JARVIS_KEYS_PASSPHRASE to its passphrase"
            " (`jarvis keys` asks for it in a terminal, the workbench's Keys panel has a field for it)."
        )
    from keyrings.cryptfile.cryptfile import CryptFileKeyring  # type: ignore[import-untyped]

    backend = CryptFileKeyring()
    backend.file_path = str(path)
    backend.time_cost = time_cost
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        backend.keyring_key = passphrase
    except (ValueError, AssertionError):
        raise KeyringLocked(
            f"The passphrase does not open {path}: use the one chosen when the first key was added"
            " (JARVIS_KEYS_PASSPHRASE), or remove that file and add the keys again."
        ) from None
    return backend
