"""The edit formats the executor is asked for, and the instruction text that asks for them.

Chosen after aider's edit-format benchmark (aider/coders/wholefile_coder.py, editblock_coder.py):
small and local models get whole-file replacement right most often, and aider points models that
fail its diff format to "whole"; but rewriting a long file costs many tokens and invites silent
drops of unrelated lines, so larger files get SEARCH/REPLACE blocks, the format most models manage.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass
from typing import Protocol

WHOLE, SEARCH_REPLACE = "whole", "search/replace"


class AttachedText(Protocol):
    """What the instructions need of an attached file (chains.context.Attachment is one)."""

    @property
    def rel_path(self) -> str: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class EditSettings:
    #: Files of at most this many lines are asked for whole; longer ones as SEARCH/REPLACE blocks.
    whole_file_max_lines: int = 120

    def __post_init__(self) -> None:
        if self.whole_file_max_lines < 0:
            raise ValueError("whole_file_max_lines must be 0 or more")


def format_for(text: str, settings: EditSettings | None = None) -> str:
    """The format asked for a file of this text."""
    settings = settings or EditSettings()
    return WHOLE if text.count("\n") + 1 <= settings.whole_file_max_lines else SEARCH_REPLACE


_WHOLE_HOW = """To change {names}, write the file's path on a line of its own, then the WHOLE new file in one
fenced block, every line of it, including the lines you did not change:

{example}
```python
<the entire new content of the file>
```"""

_BLOCK_HOW = """To change {names}, write the file's path on a line of its own, then one fenced block
per change:

{example}
```python
<<<<<<< SEARCH
<a few lines copied exactly from the file, enough to match only one place>
=======
<the lines to put there instead>
>>>>>>> REPLACE
```
The SEARCH lines must match the file exactly, spaces included; use several small blocks rather than
one large one."""


def edit_instructions(
    attachments: Sequence[AttachedText],
    settings: EditSettings | None = None,
    *,
    partial: Set[str] = frozenset(),
) -> str:
    """The instruction block the executor gets when files are attached ("" with none). Files in
    `partial` (only part of them is in the prompt) are always asked for as SEARCH/REPLACE blocks."""
    if not attachments:
        return ""

    def kind(a: AttachedText) -> str:
        return SEARCH_REPLACE if a.rel_path in partial else format_for(a.text, settings)

    whole = [a.rel_path for a in attachments if kind(a) == WHOLE]
    blocks = [a.rel_path for a in attachments if kind(a) == SEARCH_REPLACE]
    parts = [
        "If the task asks you to change the attached files, answer with the changes in the format below;"
        " change only attached files, and explain briefly after the changes."
    ]
    if whole:
        parts.append(_WHOLE_HOW.format(names=_names(whole), example=whole[0]))
    if blocks:
        parts.append(_BLOCK_HOW.format(names=_names(blocks), example=blocks[0]))
    return "\n\n".join(parts)


def _names(paths: list[str]) -> str:
    return ", ".join(paths) if len(paths) <= 6 else ", ".join(paths[:6]) + f" and {len(paths) - 6} more"
