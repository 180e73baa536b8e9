"""Backend slots shared by every jarvis process on this machine: the workbench and a separate `jarvis
serve` (or two CLI runs) take Ollama's and LM Studio's per-model slots one request at a time between
them, not only within each process's own router.

One lock file per slot (``<folder>/<hash of the backend's address and the model>.<i>``), held with
``flock`` while the request runs. The address, not the provider's name: a process whose "ollama" is
another jarvis serve must not wait for the slot that server takes on the real Ollama (it would wait for
itself). The kernel drops a process's locks when it ends, however it ends, so a killed process never
leaves a slot taken. Waiting is a poll (``poll_s``): across processes there is no queue, so no priority
either (inside a process the router's queue still puts the person at the keyboard first).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from jarvis.providers.registry import ModelEntry, ModelRegistry

#: Backend kinds whose slots are a machine-wide resource worth sharing: each serialises per model.
#: (The embedded backend is one llama context per process: nothing to share; servers that batch and
#: cloud APIs take many requests at once.)
SHARED_KINDS = frozenset({"ollama", "lmstudio"})


class HostSlotCancelled(Exception):
    """Cancelled while waiting for a slot another process holds; nothing is held."""


@dataclass
class HostSlot:
    """One held slot; released once (a second release does nothing)."""

    fd: int | None

    def release(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)  # closing the file drops its lock


@dataclass
class HostSlots:
    folder: Path
    poll_s: float = 0.05
    kinds: frozenset[str] = SHARED_KINDS
    #: The backend's address for a model (backend_address); None: its provider's name.
    where: Callable[[ModelEntry], str] | None = None
    #: False where there is no flock (Windows): every take then returns None.
    enabled: bool = field(default_factory=lambda: _flock() is not None)

    def shared(self, entry: ModelEntry) -> bool:
        return self.enabled and entry.provider_kind in self.kinds

    async def take(
        self, entry: ModelEntry, slots: int, cancel: asyncio.Event | None = None
    ) -> HostSlot | None:
        """One of ``entry``'s ``slots`` machine-wide, waiting while other processes hold them all; None
        when the backend's slots are not shared (or ``slots`` is 0: no bound). Raises HostSlotCancelled
        when ``cancel`` is set while waiting."""
        if slots <= 0 or not self.shared(entry):
            return None
        backend = self.where(entry) if self.where is not None else entry.provider
        key = hashlib.sha256(f"{backend}\0{entry.name}".encode()).hexdigest()[:24]
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            for i in range(slots):
                held = _try_lock(self.folder / f"{key}.{i}")
                if held is not None:
                    return HostSlot(held)
            if cancel is not None and cancel.is_set():
                raise HostSlotCancelled
            if cancel is None:
                await asyncio.sleep(self.poll_s)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(cancel.wait(), self.poll_s)


def backend_address(registry: ModelRegistry) -> Callable[[ModelEntry], str]:
    """``where`` for HostSlots: the address of the provider serving a model (its name if it is gone)."""

    def where(entry: ModelEntry) -> str:
        provider = registry.providers.get(entry.provider)
        return provider.address if provider is not None else entry.provider

    return where


def _flock() -> ModuleType | None:
    try:
        import fcntl
    except ImportError:  # Windows
        return None
    return fcntl


def _try_lock(path: Path) -> int | None:
    fcntl = _flock()
    assert fcntl is not None  # HostSlots.enabled
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held by another process (or another open of it here)
        os.close(fd)
        return None
    return fd
