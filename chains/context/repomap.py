"""The repo map for `--dir`: a compact outline of a project (files, classes, functions, signatures),
ranked and cut to a token budget, so a small model sees the shape of a project too large to attach.

After aider's aider/repomap.py: files are nodes, a file that uses a name another file defines points
at it, and a personalised PageRank orders them; files the task names (or whose symbols it names) are
where the walk restarts, so they and what they use rank first. Outlines are cached per file by
mtime and size in the data dir: a second map of an unchanged project parses nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .outline import Outline, outline
from .tokens import estimate_tokens

#: The map's share of a prompt unless a setting says otherwise (aider's default is 1k).
DEFAULT_MAP_TOKENS = 1024
_CACHE_VERSION = 1
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]{2,}")


@dataclass
class RepoMap:
    """The rendered map and what it covers."""

    text: str
    tokens: int
    #: Files in rank order (best first); ``shown`` those whose outline made it into ``text``.
    ranked: list[str]
    shown: list[str] = field(default_factory=list)
    #: Files read from the cache and files (re)parsed: a warm map parses nothing.
    cache_hits: int = 0
    parsed: int = 0


class OutlineCache:
    """Outlines by path, valid while the file's mtime and size are unchanged; one JSON file per root."""

    def __init__(self, cache_dir: Path | None, root: Path) -> None:
        key = hashlib.sha256(str(root).encode()).hexdigest()[:16]
        self.path = cache_dir / f"repomap-{key}.json" if cache_dir else None
        self.entries: dict[str, dict] = {}
        self.dirty = False
        if self.path and self.path.is_file():
            try:
                doc = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                doc = {}  # a damaged cache is rebuilt, never a reason to fail
            if doc.get("version") == _CACHE_VERSION:
                self.entries = doc.get("files", {})

    def get(self, rel: str, stamp: list[int]) -> Outline | None:
        e = self.entries.get(rel)
        if e is None or e.get("stamp") != stamp:
            return None
        return Outline(e["lines"], e["defines"], e["uses"], e.get("rough", False))

    def put(self, rel: str, stamp: list[int], o: Outline) -> None:
        self.entries[rel] = {
            "stamp": stamp,
            "lines": o.lines,
            "defines": o.defines,
            "uses": o.uses,
            "rough": o.rough,
        }
        self.dirty = True

    def save(self, keep: set[str]) -> None:
        if not self.path or not (self.dirty or set(self.entries) - keep):
            return
        self.entries = {k: v for k, v in self.entries.items() if k in keep}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"version": _CACHE_VERSION, "files": self.entries}), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass  # no cache next time: slower, not wrong


def build_repo_map(
    root: Path,
    files: Sequence[tuple[str, Path]],
    *,
    task: str = "",
    budget: int = DEFAULT_MAP_TOKENS,
    cache_dir: Path | None = None,
    texts: dict[str, str] | None = None,
    focus: Sequence[str] = (),
) -> RepoMap:
    """Map ``files`` ((rel path, abs path) pairs under ``root``) in at most ``budget`` tokens.

    ``texts`` gives already-read contents (skips a second read); ``focus`` are paths the user attached
    explicitly (they rank like files the task names)."""
    cache = OutlineCache(cache_dir, root)
    outlines: dict[str, Outline] = {}
    hits = parsed = 0
    for rel, path in files:
        try:
            st = path.stat()
        except OSError:
            continue
        stamp = [st.st_mtime_ns, st.st_size]
        o = cache.get(rel, stamp)
        if o is None:
            text = (texts or {}).get(rel)
            if text is None:
                try:
                    text = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
            o = outline(rel, text)
            cache.put(rel, stamp, o)
            parsed += 1
        else:
            hits += 1
        outlines[rel] = o
    cache.save(set(outlines))
    ranked = rank(outlines, task, focus)
    text, shown = render(ranked, outlines, budget)
    return RepoMap(text, estimate_tokens(text), ranked, shown, hits, parsed)


def rank(outlines: dict[str, Outline], task: str = "", focus: Sequence[str] = ()) -> list[str]:
    """Files best first: a PageRank over "uses a name defined in" edges, restarting at files the task
    mentions (by path, file name or a symbol they define) and at ``focus``."""
    files = sorted(outlines)
    if not files:
        return []
    definers: dict[str, list[str]] = {}
    for f in files:
        for name in set(outlines[f].defines):
            definers.setdefault(name, []).append(f)
    words = set(_WORD.findall(task))
    idents = {w.rsplit(".", 1)[0] if w.endswith(".py") else w for w in words}
    named = {f for f in files if f in words or Path(f).name in words or Path(f).stem in idents}
    named |= {f for f in focus if f in outlines}
    # A symbol the task names points at its file only when the name is specific ("run" is everywhere).
    by_symbol = {
        f
        for name in idents
        if len(name) >= 4 and len(definers.get(name, ())) <= 2
        for f in definers.get(name, ())
    }
    # Edge weights as aider's: a name defined in many files says little; a long, specific name says more;
    # a name the task mentions a lot more; a private one less.
    edges: dict[str, dict[str, float]] = {f: {} for f in files}
    for f in files:
        for name in outlines[f].uses:
            targets = definers.get(name)
            if not targets or len(targets) > 5:
                continue
            w = 1.0
            if name in idents:
                w *= 10
            if len(name) >= 8 and ("_" in name or name != name.lower()):
                w *= 3
            if name.startswith("_"):
                w *= 0.1
            for t in targets:
                if t != f:
                    edges[f][t] = edges[f].get(t, 0.0) + w
    restart = {f: (100.0 if f in named else 10.0 if f in by_symbol else 1.0) for f in files}
    total = sum(restart.values())
    restart = {f: v / total for f, v in restart.items()}
    score = dict(restart)
    for _ in range(30):
        nxt = {f: 0.15 * restart[f] for f in files}
        dangling = 0.0
        for f in files:
            out = edges[f]
            weight = sum(math.sqrt(w) for w in out.values())
            if not weight:
                dangling += score[f]
                continue
            for t, w in out.items():
                nxt[t] += 0.85 * score[f] * math.sqrt(w) / weight
        for f in files:
            nxt[f] += 0.85 * dangling * restart[f]
        score = nxt
    return sorted(files, key=lambda f: (f not in named, -score[f], f))


def render(ranked: Sequence[str], outlines: dict[str, Outline], budget: int) -> tuple[str, list[str]]:
    """Outlines in rank order while they fit ``budget`` tokens; then bare paths while those fit."""
    parts: list[str] = []
    shown: list[str] = []
    used = 0
    rest: list[str] = []
    for f in ranked:
        lines = outlines[f].lines
        if not lines:
            rest.append(f)
            continue
        block = f + ":\n" + "\n".join("  " + line for line in lines) + "\n"
        cost = estimate_tokens(block)
        if used + cost <= budget:
            parts.append(block)
            shown.append(f)
            used += cost
        else:
            rest.append(f)
    for f in rest:
        cost = estimate_tokens(f + "\n")
        if used + cost > budget:
            break
        parts.append(f + "\n")
        used += cost
    return "".join(parts).rstrip("\n"), shown
