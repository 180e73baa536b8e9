"""An answer's edits checked against the project before anything is written: what would change, what not.

Every edit is checked: the path stays inside the project root (no `..`, no symlink out), the file
was attached and is text, it is unchanged since it was attached (sha256), in git it has no
uncommitted changes (unless forced), a SEARCH text matches exactly once, and Python still parses.
Nothing is written here; `EditReview` lists each file's new text and diff, and each edit's fate.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .diff import diff_stats, unified_diff
from .formats import WHOLE
from .gitstate import uncommitted
from .matching import replace_once
from .parse import ProposedEdit, parse_edits

_PYTHON = (".py", ".pyi")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class EditOutcome:
    """One edit of the answer: `ok` when it is part of the change, else `reason` says why not."""

    index: int
    path: str | None
    kind: str
    ok: bool
    reason: str = ""
    #: Something the user should know about an edit that is used ("matched ignoring trailing spaces").
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "path": self.path,
            "format": self.kind,
            "status": "ok" if self.ok else "refused",
            "reason": self.reason or None,
            "note": self.note or None,
        }

    def line(self) -> str:
        what = "whole file" if self.kind == WHOLE else f"block {self.index}"
        if self.ok:
            return f"✓ {self.path} ({what})" + (f": {self.note}" if self.note else "")
        return f"✗ {self.path or '(no path)'} ({what}): {self.reason}"


@dataclass(frozen=True)
class FileChange:
    """A file's text before and after the answer's usable edits, with the patch between them."""

    path: str
    before: str = field(repr=False)
    after: str = field(repr=False)
    sha256_before: str
    sha256_after: str
    patch: str = field(repr=False)
    crlf: bool = False

    @property
    def after_bytes(self) -> bytes:
        text = self.after.replace("\n", "\r\n") if self.crlf else self.after
        return text.encode("utf-8")

    def as_json(self) -> dict[str, Any]:
        added, removed = diff_stats(self.patch)
        return {
            "path": self.path,
            "sha256_before": self.sha256_before,
            "sha256_after": self.sha256_after,
            "added": added,
            "removed": removed,
            "patch": self.patch,
        }


@dataclass(frozen=True)
class EditReview:
    """What an answer would do to the project: the changes and every edit's outcome."""

    root: Path
    changes: tuple[FileChange, ...]
    outcomes: tuple[EditOutcome, ...]

    @property
    def refused(self) -> tuple[EditOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.ok)

    @property
    def has_edits(self) -> bool:
        return bool(self.outcomes)

    def as_json(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "files": [c.as_json() for c in self.changes],
            "edits": [o.as_json() for o in self.outcomes],
            "refused": len(self.refused),
        }


DirtyCheck = Callable[[Path, list[str]], "set[str] | None"]


def review_answer(
    answer: str,
    root: Path,
    attached: Mapping[str, str | None],
    *,
    force: bool = False,
    partial: Set[str] = frozenset(),
    dirty: DirtyCheck = uncommitted,
) -> EditReview:
    """Check every edit in `answer` against the files under `root`. `attached` maps each attached
    file's path (relative to root) to its sha256 when it was attached; `partial` names those the
    prompt held only in part. With `force`, uncommitted changes in git do not stop an edit (a
    changed hash still does). Reads files and runs `git`: call it off the event loop."""
    edits = parse_edits(answer, attached)
    return review_edits(edits, root, attached, force=force, partial=partial, dirty=dirty)


def review_edits(
    edits: list[ProposedEdit],
    root: Path,
    attached: Mapping[str, str | None],
    *,
    force: bool = False,
    partial: Set[str] = frozenset(),
    dirty: DirtyCheck = uncommitted,
) -> EditReview:
    root = root.resolve()
    outcomes: dict[int, EditOutcome] = {}
    by_path: dict[str, list[ProposedEdit]] = defaultdict(list)
    for edit in edits:
        if edit.problem or edit.path is None:
            outcomes[edit.index] = _refused(edit, edit.problem or "it names no file")
        elif edit.kind == WHOLE and edit.path in partial:
            outcomes[edit.index] = _refused(
                edit,
                f"{edit.path} was only partly in the prompt, so a whole-file answer would drop the rest;"
                " ask for SEARCH/REPLACE blocks",
            )
        else:
            by_path[edit.path].append(edit)
    dirty_paths: set[str] = set()
    if not force:
        candidates = [p for p in by_path if p in attached and _inside(root, p) is not None]
        dirty_paths = dirty(root, candidates) or set() if candidates else set()
    changes: list[FileChange] = []
    for path, file_edits in by_path.items():
        problem, raw = _file_problem(root, path, attached, dirty_paths)
        if problem is not None or raw is None:
            for edit in file_edits:
                outcomes[edit.index] = _refused(edit, problem or "it cannot be read")
            continue
        change, file_outcomes = _change(path, raw, file_edits, force)
        outcomes.update({o.index: o for o in file_outcomes})
        if change is not None:
            changes.append(change)
    ordered = tuple(outcomes[k] for k in sorted(outcomes))
    return EditReview(root, tuple(changes), ordered)


def _refused(edit: ProposedEdit, reason: str) -> EditOutcome:
    return EditOutcome(edit.index, edit.path, edit.kind, False, reason)


def _inside(root: Path, rel: str) -> Path | None:
    """The file `rel` names under `root`, symlinks followed, or None when it leads outside root."""
    if not rel or Path(rel).is_absolute() or rel.startswith(("/", "\\", "~")):
        return None
    target = (root / rel).resolve()
    return target if target.is_relative_to(root) and target != root else None


def _file_problem(
    root: Path, path: str, attached: Mapping[str, str | None], dirty: set[str]
) -> tuple[str | None, bytes | None]:
    """Why edits to `path` cannot be used (or None), and the file's bytes when they can."""
    target = _inside(root, path)
    if target is None:
        return f"{path} is outside the project root {root}; edits stay inside it", None
    if path not in attached:
        return f"{path} was not attached to the run; attach it with -f so the answer may change it", None
    if not target.is_file():
        return f"{path} no longer exists", None
    try:
        raw = target.read_bytes()
    except OSError as err:
        return f"{path} cannot be read: {err.strerror or err}", None
    if b"\0" in raw[:8192]:
        return f"{path} is a binary file; only text files are edited", None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return f"{path} is not UTF-8 text (binary?); only text files are edited", None
    expected = attached.get(path)
    if expected and sha256_of(raw) != expected:
        return (
            f"{path} changed since it was attached (its sha256 differs); run the task again on the"
            " current file",
            None,
        )
    if path in dirty:
        return (
            f"{path} has uncommitted changes in git; commit or stash them first, or pass --force",
            None,
        )
    return None, raw


def _change(
    path: str, raw: bytes, edits: list[ProposedEdit], force: bool = False
) -> tuple[FileChange | None, list[EditOutcome]]:
    """Apply a file's edits in order to its text; the ones that cannot be used are refused."""
    original = raw.decode("utf-8")
    crlf = "\r\n" in original
    before = original.replace("\r\n", "\n")
    text = before
    outcomes: list[EditOutcome] = []
    for edit in edits:
        if edit.kind == WHOLE:
            new = edit.replace
            # A model often drops the last newline; the file keeps the ending it had.
            if before.endswith("\n") and new and not new.endswith("\n"):
                new += "\n"
            fragment = _fragment(text, new, force)
            if fragment:
                outcomes.append(_refused(edit, fragment))
                continue
            text = new
            outcomes.append(EditOutcome(edit.index, path, edit.kind, True))
            continue
        replaced, reason, note = replace_once(text, edit.search, edit.replace)
        if replaced is None:
            outcomes.append(_refused(edit, f"its SEARCH text {reason}"))
        else:
            text = replaced
            outcomes.append(EditOutcome(edit.index, path, edit.kind, True, note=note))
    used = [o for o in outcomes if o.ok]
    if not used:
        return None, outcomes
    if path.endswith(_PYTHON):
        broken = _syntax_error(text) if _syntax_error(before) is None else None
        if broken:
            reason = f"the result would not parse as Python ({broken}); nothing of it is applied"
            return None, [_refused_outcome(o, reason) if o.ok else o for o in outcomes]
    if text == before:
        reason = "it changes nothing in the file"
        return None, [_refused_outcome(o, reason) if o.ok else o for o in outcomes]
    after_bytes = (text.replace("\n", "\r\n") if crlf else text).encode("utf-8")
    change = FileChange(
        path=path,
        before=before,
        after=text,
        sha256_before=sha256_of(raw),
        sha256_after=sha256_of(after_bytes),
        patch=unified_diff(path, before, text),
        crlf=crlf,
    )
    return change, outcomes


_ELIDED = re.compile(
    r"^\s*(#|//|/\*|<!--|--)\s*(\.\.\.|…|(\.\.\.\s*)?(the\s+)?(rest|remainder)\s+of\s+(the\s+)?(code|file|"
    r"class|function|module)|(\.\.\.\s*)?(existing|other|unchanged|previous)\s+(code|methods|functions|lines))",
    re.I,
)


def _fragment(before: str, after: str, force: bool) -> str | None:
    """Why a "whole file" looks like a fragment (which would delete what it leaves out), or None."""
    old_lines, new_lines = before.splitlines(), after.splitlines()
    known = set(old_lines)
    for n, line in enumerate(new_lines, 1):
        if _ELIDED.match(line) and line not in known:
            return (
                f"the whole file it gives leaves code out (line {n}: {line.strip()[:60]!r}), which would"
                " delete it; ask for every line, or for SEARCH/REPLACE blocks"
            )
    if not force and len(old_lines) >= 20 and len(new_lines) < len(old_lines) // 2:
        return (
            f"it would cut the file from {len(old_lines)} to {len(new_lines)} lines (a fragment rather than"
            " the whole file?); pass --force to apply it anyway"
        )
    return None


def _refused_outcome(outcome: EditOutcome, reason: str) -> EditOutcome:
    return EditOutcome(outcome.index, outcome.path, outcome.kind, False, reason)


def _syntax_error(text: str) -> str | None:
    try:
        ast.parse(text)
    except SyntaxError as err:
        return f"line {err.lineno}: {err.msg}"
    except ValueError as err:  # null bytes
        return str(err)
    return None
