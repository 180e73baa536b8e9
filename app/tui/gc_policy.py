"""How the workbench process sets Python's garbage collector once it has started.

Streaming panes make Textual create and drop ~100k small cached objects a second. With the default
thresholds the collector then runs full collections every ~2 s that walk everything alive, the
startup objects included (modules, classes, widgets): ~150 ms frozen UI each time on a 2-core
machine. Freezing what exists after startup takes those out of every later walk, and a higher
young-generation threshold makes the walks rarer. Measured with bench.compare_stream (README).

Before that, from the launcher's first line until the engine has started, the collector is off:
startup allocates objects that nearly all stay alive (modules, classes, styles), and the ~120
collections (one of them full) it triggered before the first frame freed little and took 50-70 ms.

Both are called by the `jarvis` launcher, not by WorkbenchApp, so tests and embedders keep their own
process settings.
"""

from __future__ import annotations

import gc

#: Young objects between collections (default 700); older generations keep their defaults.
YOUNG_THRESHOLD = 10_000


def pause_during_startup() -> None:
    gc.disable()


def settle_after_startup() -> None:
    """Collects once, freezes what is left, and turns the collector (back) on with a higher young
    threshold."""
    gc.collect()  # what startup left behind is garbage: do not freeze it
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    gc.enable()
