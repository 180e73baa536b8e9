"""Edits read out of a model's answer: whole-file blocks and SEARCH/REPLACE blocks, tolerantly.

Models vary the fences (``` or ~~~, with or without a language, the path in the info string), put
the path in bold, in backticks, after "File:" or a heading, drop the last newline, or stop
mid-block. Whatever looks like an edit but cannot be read becomes an edit with a `problem`, so it
is listed as refused with the reason instead of being dropped (aider issue #5486).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .formats import SEARCH_REPLACE, WHOLE

_HEAD = re.compile(r"^\s*<{5,9}\s*SEARCH\b")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_TAIL = re.compile(r"^\s*>{5,9}\s*(REPLACE|UPDATED?)\b")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*(.*?)\s*$")
_PATHLIKE = re.compile(r"^[\w.\-/\\]+$")
_LABEL = re.compile(r"^(?:#+\s*)?(?:file(?:name)?|path)\s*[:=]\s*", re.I)


@dataclass(frozen=True)
class ProposedEdit:
    """One edit as the answer wrote it; `problem` says why it cannot be used (then it is refused)."""

    path: str | None
    kind: str  # formats.WHOLE or formats.SEARCH_REPLACE
    index: int  # its position among the answer's edits, from 1
    search: str = ""
    replace: str = ""
    problem: str | None = None

    @property
    def label(self) -> str:
        what = "whole file" if self.kind == WHOLE else "SEARCH/REPLACE block"
        return f"{what} {self.index} ({self.path or 'no path'})"


def clean_path(line: str) -> str | None:
    """The path a line names when the line is nothing but a path (markdown decoration allowed)."""
    text = line.strip().strip("*_`'\"").strip()
    text = _LABEL.sub("", text).strip().strip("*_`'\"").rstrip(":").strip().strip("*_`'\"")
    text = text.lstrip("#").strip()
    if not text or len(text) > 240 or not _PATHLIKE.match(text):
        return None
    if "." not in text.rsplit("/", 1)[-1] and "/" not in text:
        return None  # a bare word ("python", "Output") is not a file
    if set(text) <= {".", "/", "\\"}:
        return None
    return text[2:] if text.startswith("./") else text


def resolve_name(name: str | None, known: Iterable[str]) -> str | None:
    """`name` as one of the known (attached) paths when it is one or names exactly one by its end."""
    if name is None:
        return None
    known = list(known)
    if name in known:
        return name
    ends = [k for k in known if k.endswith("/" + name)]
    if len(ends) == 1:
        return ends[0]
    # A slip of the pen ("parsr.py" for "parser.py"), as aider forgives with the same cut-off.
    close = difflib.get_close_matches(name, known, n=2, cutoff=0.8)
    return close[0] if len(close) == 1 else name


def _info_path(info: str) -> str | None:
    """A path in a fence's info string: ```python cli.py, ```cli.py, ```python title="cli.py"."""
    for word in re.split(r"[\s,]+", info):
        word = re.sub(r"^(?:title|file(?:name)?|path)=", "", word).strip("\"'{}")
        found = clean_path(word)
        if found:
            return found
    return None


def _path_before(lines: list[str], start: int) -> str | None:
    """The path named on one of the (up to 3) non-blank lines above `start`, nearest first."""
    seen = 0
    i = start - 1
    while i >= 0 and seen < 3:
        line = lines[i]
        i -= 1
        if not line.strip():
            continue
        seen += 1
        fence = _FENCE.match(line)
        if fence:
            found = _info_path(fence.group(2))
            if found:
                return found
            continue
        if _DIVIDER.match(line) or _TAIL.match(line) or _HEAD.match(line):
            return None
        return clean_path(line)
    return None


def _closing(lines: list[str], start: int, fence: str) -> int | None:
    """Index of the line closing the fence opened at `start`, or None when it is never closed."""
    for j in range(start + 1, len(lines)):
        m = _FENCE.match(lines[j])
        if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not m.group(2):
            return j
    return None


def _joined(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def parse_edits(answer: str, known_paths: Iterable[str] = ()) -> list[ProposedEdit]:
    """Every edit in `answer`, in order. `known_paths` (the attached files) resolve bare names and
    let a block without a path go to the only attached file."""
    known = list(known_paths)
    lines = answer.replace("\r\n", "\n").split("\n")
    edits: list[ProposedEdit] = []
    last_path: str | None = None
    fence_end: int | None = None  # the closing line of a fence holding SEARCH/REPLACE blocks
    i = 0
    while i < len(lines):
        line = lines[i]
        if i == fence_end:
            fence_end, i = None, i + 1
            continue
        if _HEAD.match(line):
            path = resolve_name(_path_before(lines, i), known) or last_path
            if path is None and len(known) == 1:
                path = known[0]
            edit, i = _block(lines, i, path, len(edits) + 1)
            edits.append(edit)
            last_path = path or last_path
            continue
        fence = _FENCE.match(line)
        if not fence:
            i += 1
            continue
        end = _closing(lines, i, fence.group(1))
        body = lines[i + 1 : end if end is not None else len(lines)]
        if any(_HEAD.match(b) for b in body):
            fence_end, i = end, i + 1  # its blocks are read line by line
            continue
        path = _info_path(fence.group(2)) or _path_before(lines, i) or _announced(lines, i, known)
        if path is None:  # plain code in the answer, not an edit
            i = (end if end is not None else len(lines)) + 1
            continue
        path = resolve_name(path, known)
        if end is None:
            cut = "its fenced block is never closed (the answer may have been cut off)"
            edits.append(ProposedEdit(path, WHOLE, len(edits) + 1, problem=cut))
            break
        edits.append(ProposedEdit(path, WHOLE, len(edits) + 1, replace=_joined(body)))
        last_path = path
        i = end + 1
    return edits


_ANNOUNCING = re.compile(r"\b(updated|new|full|complete|modified|changed|entire|whole|final|revised)\b", re.I)


def _announced(lines: list[str], start: int, known: list[str]) -> str | None:
    """The attached file a sentence right above the fence announces ("Here is the updated `cli.py`:")."""
    above = next((line for line in reversed(lines[:start]) if line.strip()), "")
    if not above.rstrip().endswith(":") or not _ANNOUNCING.search(above):
        return None
    named = [k for k in known if re.search(r"(?<![\w./])" + re.escape(k) + r"(?![\w/])", above)]
    if not named:
        named = [
            k for k in known if re.search(r"(?<![\w./])" + re.escape(k.rsplit("/", 1)[-1]) + r"\b", above)
        ]
    return named[0] if len(named) == 1 else None


def _block(lines: list[str], start: int, path: str | None, index: int) -> tuple[ProposedEdit, int]:
    """The SEARCH/REPLACE block whose head is at `start`, and the index of the line after it."""
    search: list[str] = []
    replace: list[str] = []
    part = search
    for j in range(start + 1, len(lines)):
        line = lines[j]
        if _DIVIDER.match(line) and part is search:
            part = replace
        elif _TAIL.match(line) and part is replace:
            edit = ProposedEdit(path, SEARCH_REPLACE, index, _joined(search), _joined(replace))
            if path is None:
                edit = _with_problem(edit, "no file path precedes it: write the path on the line above")
            return edit, j + 1
        elif _HEAD.match(line):
            return ProposedEdit(path, SEARCH_REPLACE, index, problem=_unclosed(part is search)), j
        else:
            part.append(line)
    return ProposedEdit(path, SEARCH_REPLACE, index, problem=_unclosed(part is search)), len(lines)


def _unclosed(in_search: bool) -> str:
    missing = "'=======' and '>>>>>>> REPLACE'" if in_search else "'>>>>>>> REPLACE'"
    return f"the block has no {missing} line (the answer may have been cut off)"


def _with_problem(edit: ProposedEdit, problem: str) -> ProposedEdit:
    return ProposedEdit(edit.path, edit.kind, edit.index, edit.search, edit.replace, problem)
