"""A small Python project for the edit tests: a parser, a CLI, a failing test, optionally a git repo."""

from __future__ import annotations

import subprocess
from pathlib import Path

from jarvis.chains.edits.review import sha256_of

PARSER = 'def parse(text):\n    """Comma-separated fields."""\n    return text.split(",")\n'
CLI = (
    "import sys\n\nfrom parser import parse\n\n\ndef main(argv):\n"
    "    for field in parse(argv[1]):\n        print(field)\n\n\nif __name__ == '__main__':\n"
    "    main(sys.argv)\n"
)
TEST = (
    "from parser import parse\n\n\ndef test_empty_gives_no_fields():\n    assert parse('') == []\n\n\n"
    "def test_two_fields():\n    assert parse('a,b') == ['a', 'b']\n"
)
#: What a model answers to "parse('') should give []": one SEARCH/REPLACE block for parser.py.
FIX = """The empty string must give no fields.

parser.py
```python
<<<<<<< SEARCH
    return text.split(",")
=======
    return text.split(",") if text else []
>>>>>>> REPLACE
```
"""


def make_project(root: Path, *, git: bool = False) -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "parser.py").write_text(PARSER)
    (root / "cli.py").write_text(CLI)
    (root / "tests" / "test_parser.py").write_text(TEST)
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    if git:
        env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
        env |= {"GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin", "HOME": str(root)}
        for cmd in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "start"]):
            subprocess.run(["git", "-C", str(root), *cmd], check=True, env=env, capture_output=True)
    return root


def attached(root: Path, *paths: str) -> dict[str, str]:
    """`paths` as attached now: path -> sha256."""
    return {p: sha256_of((root / p).read_bytes()) for p in paths}


def no_git(root: Path, paths: list[str]) -> set[str] | None:
    """A dirty check for tests that start no process: not a git work tree."""
    return None
