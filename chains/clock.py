"""The engine's clock and id source, passed in (defaults: the real ones): tests construct them, not patch."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    """Wall time for records, a monotonic counter for durations; the `time` module itself is one."""

    def time(self) -> float: ...

    def perf_counter(self) -> float: ...


class SystemClock:
    """The real clock (a class, not the module, so a type checker sees a Clock)."""

    @staticmethod
    def time() -> float:
        return time.time()

    @staticmethod
    def perf_counter() -> float:
        return time.perf_counter()


#: Makes a new id from a prefix: "run" → "run_3f2a…".
IdSource = Callable[[str], str]


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"
