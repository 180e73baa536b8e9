"""A small project on disk: Python files, a .gitignore, a binary file (and, on request, a git repo)."""

from __future__ import annotations

import subprocess
from pathlib import Path

PARSER = '''"""Parse key=value lines."""

MAX_LINES = 1000


class ParseError(ValueError):
    pass


def parse(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip()
    return out
'''

CLI = '''"""Command line."""

from app.parser import parse


def main(argv: list[str] | None = None) -> int:
    print(parse("a=1"))
    return 0
'''

UTIL = """def helper(x: int) -> int:
    return x + 1
"""


def make_project(root: Path, *, git: bool = False) -> Path:
    (root / "app").mkdir(parents=True)
    (root / "app" / "parser.py").write_text(PARSER)
    (root / "app" / "cli.py").write_text(CLI)
    (root / "app" / "util.py").write_text(UTIL)
    (root / "notes.md").write_text("# Notes\n\n```python\nprint('a fence inside')\n```\n")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64))
    (root / ".gitignore").write_text("build/\n*.log\n")
    (root / "build").mkdir()
    (root / "build" / "out.py").write_text("GENERATED = 1\n")
    (root / "debug.log").write_text("noise\n")
    if git:
        for args in (
            ["init", "-q"],
            ["add", "."],
            ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x"],
        ):
            subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    return root
