"""Sentences for TOML files that do not load: the line of every error, syntax or validation alike.

tomllib and pydantic report where a problem is in their own terms (a column, or a path of keys
such as ``('roles', 0, 'name')``). A user fixes a file by line, so the key path is mapped back to
the line that wrote it, by a small scan of the text that knows TOML's tables, arrays of tables,
dotted and quoted keys and multi-line strings (enough for error messages; never used to read values).
"""

from __future__ import annotations

import re
import tomllib
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

Loc = tuple[str | int, ...]

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_SYNTAX_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)")


class NotUTF8(ValueError):
    """A TOML file that is not UTF-8 text (TOML files must be); the message names the line."""


def decode(data: bytes, origin: str) -> str:
    """The file's text; NotUTF8 names the line and the byte when it is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise NotUTF8(
            f"{origin} line {line} is not UTF-8 text (byte 0x{data[err.start]:02x}); save it as UTF-8."
        ) from None


def syntax_error(origin: str, err: tomllib.TOMLDecodeError, text: str) -> str:
    """``origin`` line N is not valid TOML: what tomllib says, with the column."""
    message = str(err)
    found = _SYNTAX_AT.search(message)
    if found:
        what = _SYNTAX_AT.sub("", message).rstrip(".")
        return f"{origin} line {found.group(1)} is not valid TOML: {what} (column {found.group(2)})."
    # "Unclosed array (at end of document)": the trouble starts on the line after the longest prefix
    # of the file that still parses.
    what = re.sub(r"\s*\(at end of document\)", "", message).rstrip(".")
    line = _first_unparsable_line(text)
    return f"{origin}{f' line {line}' if line else ''} is not valid TOML: {what} (it is never closed)."


def _first_unparsable_line(text: str) -> int | None:
    lines = text.splitlines()
    if len(lines) > 400:  # quadratic below; config and chain files are far shorter
        return None
    for end in range(len(lines), -1, -1):
        try:
            tomllib.loads("\n".join(lines[:end]))
        except tomllib.TOMLDecodeError:
            continue
        return end + 1 if end < len(lines) else None
    return None


def validation_problems(text: str, err: ValidationError, limit: int = 5) -> list[str]:
    """One clause per error: ``'key.path' (line N): message``, plus what to do where that is known."""
    lines = KeyLines.scan(text)
    problems = []
    for e in err.errors()[:limit]:
        loc = _data_loc(e["loc"])
        line = lines.line_of(loc)
        where = f" (line {line})" if line else ""
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        dotted = lines.dotted_key_under(loc)
        if dotted:
            what = "model names" if loc[:-1] == ("embedded", "models") else "keys"
            msg += (
                f" (TOML reads the dots in {dotted} as nested keys); quote {what} that contain dots:"
                f' "{dotted}" = "…"'
            )
        # An error about the file as a whole (a model validator's) has no key to name.
        problems.append(f"'{display_loc(loc)}'{where}: {msg}" if loc else msg)
    return problems


def display_loc(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _data_loc(loc: Sequence[str | int]) -> Loc:
    # A union's members appear in pydantic's loc as type names ('list[OllamaHost]'); they are not keys.
    return tuple(p for p in loc if isinstance(p, int) or not re.search(r"[\[\]()]", p))


def parse_key(text: str) -> tuple[list[str], bool, int] | None:
    """A TOML key at the start of ``text``: its parts, whether it is bare parts joined by dots, its end."""
    parts: list[str] = []
    i, all_bare = 0, True
    while True:
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] in "\"'":
            quote = text[i]
            end = text.find(quote, i + 1)
            while quote == '"' and end > 0 and text[end - 1] == "\\":
                end = text.find(quote, end + 1)
            if end < 0:
                return None
            raw = text[i + 1 : end]
            parts.append(next(iter(tomllib.loads(f"{text[i : end + 1]} = 0"))) if "\\" in raw else raw)
            i, all_bare = end + 1, False
        else:
            m = _BARE.match(text, i)
            if not m:
                return None
            parts.append(m.group())
            i = m.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == ".":
            i += 1
            continue
        return parts, all_bare and len(parts) > 1, i


@dataclass
class KeyLines:
    """Where each key path of a TOML text is written (1-based lines)."""

    lines: dict[Loc, int] = field(default_factory=dict)
    #: Key paths written as one dotted bare key (``qwen-coder-1.5b = ...``) → that key's text.
    dotted: dict[Loc, str] = field(default_factory=dict)

    @classmethod
    def scan(cls, text: str) -> KeyLines:
        return _Scanner(text).scan()

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """The line of ``loc``, or of its nearest written parent (a value inside an inline table or array)."""
        loc = tuple(loc)
        for depth in range(len(loc), 0, -1):
            if loc[:depth] in self.lines:
                return self.lines[loc[:depth]]
        return None

    def dotted_key_under(self, loc: Sequence[str | int]) -> str | None:
        """The dotted bare key whose dot made ``loc`` a table, when that is what ``loc`` is."""
        return self.dotted.get(tuple(loc))


def _resolve(path: Sequence[str], arrays: dict[Loc, int]) -> Loc:
    # `[roles.select]` after `[[roles]]` means the last element's table: put the indices in.
    out: Loc = ()
    for part in path:
        out = (*out, part)
        if out in arrays:
            out = (*out, arrays[out])
    return out


class _Scanner:
    """One pass over the text: headers, keys, and values far enough to know where each array element
    and inline-table key starts (a value spans lines inside arrays and multi-line strings)."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.end = text, 0, len(text)
        self.starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
        self.found = KeyLines()

    def scan(self) -> KeyLines:
        table: Loc = ()
        arrays: dict[Loc, int] = {}  # array-of-tables path (with indices) → its last index
        while True:
            self._blank(newlines=True)
            if self.pos >= self.end:
                return self.found
            line = self._line()
            if self.text.startswith("[", self.pos):
                is_array = self.text.startswith("[[", self.pos)
                parsed = parse_key(self.text[self.pos + (2 if is_array else 1) : self._eol()])
                self.pos = self._eol()
                if parsed is None:
                    continue
                parts = parsed[0]
                if is_array:  # the last part names the array itself, which gets a new element
                    path = (*_resolve(parts[:-1], arrays), parts[-1])
                    arrays[path] = arrays.get(path, -1) + 1
                    self.found.lines.setdefault(path, line)
                    path = (*path, arrays[path])
                else:
                    path = _resolve(parts, arrays)
                table = path
                self.found.lines.setdefault(table, line)
                continue
            key = self._key(table, line)
            self._blank()
            if key is not None and self.text.startswith("=", self.pos):
                self.pos += 1
                self._value(key)
            self.pos = self._eol()  # a trailing comment, or a line that is not a key = value

    def _line(self) -> int:
        return bisect_right(self.starts, self.pos)

    def _eol(self) -> int:
        end = self.text.find("\n", self.pos)
        return self.end if end < 0 else end

    def _blank(self, newlines: bool = False) -> None:
        """Skip spaces and comments (and line ends, between statements and inside arrays)."""
        while self.pos < self.end:
            c = self.text[self.pos]
            if c in " \t\r" or (newlines and c == "\n"):
                self.pos += 1
            elif c == "#":
                self.pos = self._eol()
            else:
                return

    def _key(self, base: Loc, line: int) -> Loc | None:
        self._blank()
        parsed = parse_key(self.text[self.pos : self._eol()])
        if parsed is None:
            return None
        parts, dotted, end = parsed
        raw = self.text[self.pos : self.pos + end].strip()
        self.pos += end
        path = (*base, *parts)
        for depth in range(len(base) + 1, len(path) + 1):
            self.found.lines.setdefault(path[:depth], line)
        if dotted:
            for depth in range(len(base) + 1, len(path)):
                self.found.dotted.setdefault(path[:depth], raw)
        return path

    def _value(self, path: Loc) -> None:
        text = self.text
        self._blank()
        for delim in ('"""', "'''"):
            if text.startswith(delim, self.pos):
                close = text.find(delim, self.pos + 3)
                while delim == '"""' and close > 0 and _escaped(text, close):
                    close = text.find(delim, close + 1)
                self.pos = self.end if close < 0 else close + 3
                while self.pos < self.end and text[self.pos] == delim[0]:  # """a"""" ends in a quote
                    self.pos += 1
                return
        c = text[self.pos] if self.pos < self.end else ""
        if c == '"':
            i = self.pos + 1
            while i < self.end and text[i] not in '"\n':
                i += 2 if text[i] == "\\" else 1
            self.pos = i + 1
        elif c == "'":
            close = text.find("'", self.pos + 1)
            self.pos = self.end if close < 0 else close + 1
        elif c == "[":
            self.pos += 1
            index = 0
            while True:
                self._blank(newlines=True)
                if self.pos >= self.end or text[self.pos] == "]":
                    self.pos += 1
                    return
                self.found.lines.setdefault((*path, index), self._line())
                self._value((*path, index))
                self._blank(newlines=True)
                if not text.startswith(",", self.pos):
                    self.pos += text.startswith("]", self.pos)
                    return
                self.pos += 1
                index += 1
        elif c == "{":
            self.pos += 1
            while True:
                self._blank()
                if self.pos >= self.end or text[self.pos] == "}":
                    self.pos += 1
                    return
                key = self._key(path, self._line())
                self._blank()
                if key is None or not text.startswith("=", self.pos):
                    return
                self.pos += 1
                self._value(key)
                self._blank()
                if not text.startswith(",", self.pos):
                    self.pos += text.startswith("}", self.pos)
                    return
                self.pos += 1
        else:  # a number, a boolean, a date
            while self.pos < self.end and text[self.pos] not in ",]}\n#":
                self.pos += 1


def _escaped(text: str, at: int) -> bool:
    backslashes = len(text[:at]) - len(text[:at].rstrip("\\"))
    return backslashes % 2 == 1
