"""Collect the files a run is given: `-f PATH` (repeatable) and `--dir DIR` (respecting .gitignore).

Binary, unreadable, non-UTF-8 and oversized files are not attached; each is named in a notice.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from .attachment import LEFT_OUT, Attachment
from .gitignore import GitIgnore
from .tokens import estimate_tokens

#: A file this large is almost never what a local model should read whole (and reading it costs memory).
MAX_FILE_BYTES = 1_000_000
#: A `--dir` with more files than this is cut (in path order), said in a notice.
MAX_DIR_FILES = 2_000
#: Never part of a project's context even without a .gitignore.
ALWAYS_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "node_modules"})


class ContextError(Exception):
    """A sentence for the user: which path cannot be attached, and what to do."""


@dataclass
class Collected:
    """What was attached (left-out files included, with their reason) and what was said about it."""

    root: Path
    attachments: list[Attachment] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    #: The `--dir` folders, relative to root ("." for root itself), for the repo map.
    dirs: list[str] = field(default_factory=list)


def collect(
    files: Sequence[str | Path] = (),
    dirs: Sequence[str | Path] = (),
    *,
    root: str | Path | None = None,
) -> Collected:
    """Read ``files`` and every non-ignored file under ``dirs``; paths are reported relative to ``root``
    (default: the common folder of everything given, so a repo's files read as in the repo).
    Raises ContextError when a path given does not exist."""
    given = [_existing(p, "file") for p in files]
    folders = [_existing(d, "folder") for d in dirs]
    for f in given:
        if f.is_dir():
            raise ContextError(f"{f} is a folder: attach it with --dir {f} (or name files with -f).")
    for d in folders:
        if not d.is_dir():
            raise ContextError(f"{d} is a file, not a folder: attach it with -f {d}.")
    base = Path(root).resolve() if root else _common_root([*given, *folders])
    out = Collected(base)
    seen: set[Path] = set()
    for f in given:
        _add(out, f, seen, "file")
    for d in folders:
        out.dirs.append(_rel(d, base) or ".")
        listed, truncated = project_files(d, top=base)
        if not listed:
            out.notices.append(
                f"{d} has no files to attach: it is empty, or .gitignore leaves nothing of it (name"
                " the files you want with -f)."
            )
        if truncated:
            out.notices.append(
                f"{d} has more than {MAX_DIR_FILES} files: only the first {MAX_DIR_FILES} (by path) were"
                " considered; attach a smaller folder with --dir."
            )
        for f in listed:
            _add(out, f, seen, "dir")
    return out


def project_files(folder: Path, top: Path | None = None) -> tuple[list[Path], bool]:
    """The files of ``folder`` a developer would call the project: git's view (tracked and untracked,
    ignored ones left out) in a git work tree, else a walk honouring .gitignore files (also those of the
    folders from ``top``, the project's root, down to it, as git would). Sorted; the flag is True when
    the list was cut at MAX_DIR_FILES."""
    listed = _git_files(folder)
    if listed is None:
        listed = sorted(_walk(folder, top))
    return listed[:MAX_DIR_FILES], len(listed) > MAX_DIR_FILES


def _git_files(folder: Path) -> list[Path] | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(folder), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:  # not a work tree (or no git): walk it ourselves
        return None
    names = [n for n in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if n]
    # --cached lists files deleted from the work tree but not yet from the index.
    paths = [folder / n for n in names]
    return sorted(p for p in paths if p.is_file() and not _skipped_dir(p.relative_to(folder)))


def _walk(folder: Path, top: Path | None = None) -> Iterable[Path]:
    specs: list[tuple[Path, GitIgnore]] = []

    def read_ignore(here_path: Path) -> None:
        ignore = here_path / ".gitignore"
        if ignore.is_file():
            specs.append(
                (here_path, GitIgnore(ignore.read_text(encoding="utf-8", errors="replace").splitlines()))
            )

    if top is not None and top in folder.parents:
        above = [p for p in reversed(folder.parents) if p == top or top in p.parents]  # top down
        for parent in above:
            read_ignore(parent)
        for d in [*above[1:], folder]:
            if any(
                spec.ignored(d.relative_to(base).as_posix(), True)
                for base, spec in specs
                if base in d.parents
            ):
                return  # the folder (or one it is in) is ignored: git would leave all of it out
    for here, subdirs, names in os.walk(folder):
        here_path = Path(here)
        read_ignore(here_path)

        def ignored(path: Path, is_dir: bool) -> bool:
            return any(
                spec.ignored(path.relative_to(base).as_posix(), is_dir)
                for base, spec in specs
                if base in path.parents
            )

        subdirs[:] = sorted(
            s for s in subdirs if s not in ALWAYS_SKIPPED_DIRS and not ignored(here_path / s, True)
        )
        for name in sorted(names):
            if not ignored(here_path / name, False):
                yield here_path / name


def _skipped_dir(rel: Path) -> bool:
    return any(part in ALWAYS_SKIPPED_DIRS for part in rel.parts[:-1])


def _add(out: Collected, path: Path, seen: set[Path], source: str) -> None:
    path = path.resolve()
    if path in seen:
        return
    seen.add(path)
    out.attachments.append(replace(read_attachment(path, out.root), source=source))
    last = out.attachments[-1]
    if last.status == LEFT_OUT:
        out.notices.append(f"{last.rel_path} is not attached: {last.reason}.")


def read_attachment(path: Path, root: Path) -> Attachment:
    """One file as an Attachment; a file that cannot be text is LEFT_OUT with the reason."""
    rel = _rel(path, root) or path.name
    try:
        data = path.read_bytes()
    except OSError as err:
        return Attachment(rel, path, "", 0, 0, "", LEFT_OUT, f"it cannot be read ({err.strerror})")
    digest = hashlib.sha256(data).hexdigest()
    size = len(data)
    if size > MAX_FILE_BYTES:
        why = f"it is {size // 1000:,} KB, over the {MAX_FILE_BYTES // 1000:,} KB a file may have"
        return Attachment(rel, path, digest, size, 0, "", LEFT_OUT, why)
    if b"\0" in data[:8192]:
        return Attachment(rel, path, digest, size, 0, "", LEFT_OUT, "it is a binary file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Attachment(rel, path, digest, size, 0, "", LEFT_OUT, "it is not UTF-8 text (binary?)")
    return Attachment(rel, path, digest, size, estimate_tokens(text), text)


def _existing(p: str | Path, what: str) -> Path:
    path = Path(p).expanduser()
    if not path.exists():
        raise ContextError(f"The {what} {p} does not exist (paths are relative to {Path.cwd()}).")
    return path.resolve()


def _common_root(paths: Sequence[Path]) -> Path:
    if not paths:
        return Path.cwd().resolve()
    parents = [p if p.is_dir() else p.parent for p in paths]
    cwd = Path.cwd().resolve()
    # Inside the current folder, paths read as the user typed them (relative to it).
    if all(p == cwd or cwd in p.parents for p in parents):
        return cwd
    return Path(os.path.commonpath([str(p) for p in parents]))


def _rel(path: Path, root: Path) -> str | None:
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        return None
    return "" if rel == "." else rel
