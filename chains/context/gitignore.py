"""A small .gitignore matcher for folders outside a git work tree (inside one, git itself decides).

Covers what project .gitignore files use: comments, `!` negation, a trailing `/` for folders only,
a leading or inner `/` anchoring to the .gitignore's folder, `*`, `?`, `[...]` and `**`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool


def _translate(glob: str) -> str:
    out, i = [], 0
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = glob.find("]", i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = glob[i + 1 : end].replace("\\", "\\\\")
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


class GitIgnore:
    def __init__(self, lines: list[str]) -> None:
        self.rules: list[_Rule] = []
        for raw in lines:
            line = raw.rstrip("\n").rstrip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            line = line[1:] if negate else line
            dir_only = line.endswith("/")
            line = line.rstrip("/")
            anchored = "/" in line
            line = line.lstrip("/")
            prefix = "" if anchored else "(?:.*/)?"
            self.rules.append(_Rule(re.compile(f"^{prefix}{_translate(line)}(?:/.*)?$"), negate, dir_only))

    def ignored(self, rel: str, is_dir: bool) -> bool:
        """``rel``: a path relative to the .gitignore's folder, with `/` separators. The last rule wins."""
        result = False
        for rule in self.rules:
            if rule.dir_only and not is_dir and rule.regex.pattern.endswith("(?:/.*)?$"):
                # "build/" matches a file only below a folder named build.
                if not any(rule.regex.match(p) for p in _parents(rel)):
                    continue
            elif not rule.regex.match(rel):
                continue
            result = not rule.negate
        return result


def _parents(rel: str) -> list[str]:
    parts = rel.split("/")
    return ["/".join(parts[:n]) for n in range(1, len(parts))]
