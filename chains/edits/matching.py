"""Finding a SEARCH text in a file: exactly once, or a sentence saying how often and what is closest."""

from __future__ import annotations

import difflib


def replace_once(text: str, search: str, replace: str) -> tuple[str | None, str, str]:
    """`text` with the one occurrence of `search` replaced, or None and why not ("matches 0 times;
    closest: ..."); the third item notes a tolerance used. Exact first; then line by line ignoring
    trailing spaces and a missing last newline (what small models get wrong without meaning to)."""
    if not search.strip():
        return None, "is empty: copy the lines to replace into it", ""
    count = text.count(search)
    if count == 1:
        return text.replace(search, replace, 1), "", ""
    if count > 1:
        return (
            None,
            f"matches {count} times ({_where(text, search)}); add lines around it to make it unique",
            "",
        )
    lines = text.split("\n")
    wanted = [s.rstrip() for s in search.rstrip("\n").split("\n")]
    n = len(wanted)
    starts = [i for i in range(len(lines) - n + 1) if [x.rstrip() for x in lines[i : i + n]] == wanted]
    if len(starts) == 1:
        i = starts[0]
        body = replace[:-1] if replace.endswith("\n") else replace
        new = body.split("\n") if replace else []
        return "\n".join(lines[:i] + new + lines[i + n :]), "", "matched ignoring trailing spaces"
    if len(starts) > 1:
        where = ", ".join(str(i + 1) for i in starts[:5])
        return None, f"matches {len(starts)} times (lines {where}); add lines around it to make it unique", ""
    indented = _indented_matches(lines, wanted)
    if len(indented) == 1:
        i, prefix = indented[0]
        body = replace[:-1] if replace.endswith("\n") else replace
        new = [prefix + line if line.strip() else line for line in body.split("\n")] if replace else []
        return "\n".join(lines[:i] + new + lines[i + n :]), "", "matched with its indentation added"
    if len(indented) > 1:
        where = ", ".join(str(i + 1) for i, _ in indented[:5])
        return (
            None,
            f"matches {len(indented)} times (lines {where}); add lines around it to make it unique",
            "",
        )
    return None, f"matches 0 times; {closest(lines, wanted)}", ""


def _indented_matches(lines: list[str], wanted: list[str]) -> list[tuple[int, str]]:
    """Where `wanted` matches with the same whitespace added before every non-blank line (models
    often quote a nested block dedented), and that whitespace."""
    n = len(wanted)
    first = next((w for w in wanted if w.strip()), None)
    if first is None:
        return []
    found = []
    for i in range(len(lines) - n + 1):
        window = [x.rstrip() for x in lines[i : i + n]]
        k = next(j for j, w in enumerate(wanted) if w.strip())
        if not window[k].endswith(first) or window[k][: len(window[k]) - len(first)].strip():
            continue
        prefix = window[k][: len(window[k]) - len(first)]
        pairs = zip(window, wanted, strict=True)
        if prefix and all((got == prefix + want) if want.strip() else not got.strip() for got, want in pairs):
            found.append((i, prefix))
    return found


def _where(text: str, search: str) -> str:
    lines: list[str] = []
    found = text.find(search)
    while found != -1 and len(lines) < 5:
        lines.append(str(text.count("\n", 0, found) + 1))
        found = text.find(search, found + 1)
    return "lines " + ", ".join(lines)


def closest(lines: list[str], wanted: list[str]) -> str:
    """The file's lines most like `wanted`, quoted with their line numbers."""
    n = max(len(wanted), 1)
    target = "\n".join(s.strip() for s in wanted)
    best, best_at = 0.0, 0
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(target)
    for i in range(max(len(lines) - n + 1, 1)):
        matcher.set_seq1("\n".join(s.strip() for s in lines[i : i + n]))
        if matcher.real_quick_ratio() <= best or matcher.quick_ratio() <= best:
            continue
        ratio = matcher.ratio()
        if ratio > best:
            best, best_at = ratio, i
    if best < 0.3:
        return "nothing in the file is close to it"
    shown = lines[best_at : best_at + min(n, 8)]
    quoted = "\n".join(f"  {best_at + k + 1:>4} | {line}" for k, line in enumerate(shown))
    return f"the closest lines ({best:.0%} alike) are:\n{quoted}"
