"""`@` in the Run view's task box: complete a file path from the current folder, then attach the file.

The task box is a TextArea, which has no suggester; a TaskArea hands the keys a completion needs (tab,
enter, up, down, esc) to the list under it while the list is open, and types normally otherwise.
"""

from __future__ import annotations

import re
from pathlib import Path

from textual import events
from textual.message import Message
from textual.widgets import OptionList, TextArea
from textual.widgets.option_list import Option

#: "@" then a path being typed, right before the cursor (an e-mail address is not a mention).
_MENTION = re.compile(r"(?:^|(?<=\s))@([^\s@]*)$")
_SKIPPED = frozenset({".git", "__pycache__", ".venv", "venv", "node_modules", ".mypy_cache", ".ruff_cache"})
MAX_CHOICES = 30


def path_choices(base: Path, partial: str, limit: int = MAX_CHOICES) -> list[str]:
    """Paths under ``base`` completing ``partial`` ("app/ru" → "app/run_view.py"): folders first, each
    ending in "/"; hidden entries only when the part typed starts with "."."""
    folder, _, prefix = partial.rpartition("/")
    where = (base / folder) if folder else base
    try:
        entries = list(where.iterdir())
    except OSError:
        return []
    out: list[tuple[bool, str]] = []
    for e in entries:
        name = e.name
        if not name.startswith(prefix) or name in _SKIPPED:
            continue
        if name.startswith(".") and not prefix.startswith("."):
            continue
        is_dir = e.is_dir()
        out.append((not is_dir, f"{folder + '/' if folder else ''}{name}{'/' if is_dir else ''}"))
    return [p for _, p in sorted(out)][:limit]


def mention_before_cursor(area: TextArea) -> str | None:
    """The path typed after an "@" just before the cursor, or None."""
    row, col = area.cursor_location
    line = area.document.get_line(row)[:col]
    m = _MENTION.search(line)
    return m.group(1) if m else None


class PathChoices(OptionList):
    """The list of completions under the task box; hidden while there is nothing to complete."""

    DEFAULT_CSS = """
    PathChoices { display: none; height: auto; max-height: 8; border: round $accent; }
    PathChoices.open { display: block; }
    """

    def show(self, choices: list[str]) -> None:
        self.set_options([Option(c, id=c) for c in choices])
        self.set_class(bool(choices), "open")
        if choices:
            self.highlighted = 0

    def hide(self) -> None:
        self.remove_class("open")

    @property
    def is_open(self) -> bool:
        return self.has_class("open")


class TaskArea(TextArea):
    """The task box: a TextArea that completes `@path` mentions and reports the files chosen."""

    class Attached(Message):
        """A file (or folder) was chosen from the `@` completion."""

        def __init__(self, path: str) -> None:
            super().__init__()
            self.path = path

    def __init__(self, *args, base: Path | None = None, **kw) -> None:
        super().__init__(*args, **kw)
        #: Where paths are completed from (the folder jarvis was started in).
        self.base = base

    @property
    def choices(self) -> PathChoices | None:
        found = self.screen.query(PathChoices) if self.is_mounted else []
        return found[0] if found else None

    def _folder(self) -> Path:
        return self.base or Path.cwd()

    def refresh_choices(self) -> None:
        box = self.choices
        if box is None:
            return
        partial = mention_before_cursor(self)
        if partial is None:
            box.hide()
            return
        box.show(path_choices(self._folder(), partial))

    async def _on_key(self, event: events.Key) -> None:
        box = self.choices
        if box is not None and box.is_open:
            if event.key in ("down", "up"):
                event.stop()
                event.prevent_default()
                box.action_cursor_down() if event.key == "down" else box.action_cursor_up()
                return
            if event.key in ("tab", "enter"):
                event.stop()
                event.prevent_default()
                self.accept()
                return
            if event.key == "escape":
                event.stop()
                event.prevent_default()
                box.hide()
                return
        await super()._on_key(event)

    def accept(self) -> None:
        """Put the highlighted path in place of the mention; a file is attached, a folder opens."""
        box = self.choices
        partial = mention_before_cursor(self)
        if box is None or partial is None or box.highlighted is None:
            return
        chosen = str(box.get_option_at_index(box.highlighted).id)
        row, col = self.cursor_location
        folder = chosen.endswith("/")
        self.replace(chosen + ("" if folder else " "), (row, col - len(partial)), (row, col))
        if folder:
            self.refresh_choices()
        else:
            box.hide()
            self.post_message(self.Attached(chosen))
