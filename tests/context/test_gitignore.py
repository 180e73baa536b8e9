"""Our .gitignore matcher (used outside a git work tree) agrees with git on the common patterns."""

from __future__ import annotations

import pytest

from jarvis.chains.context.gitignore import GitIgnore

RULES = GitIgnore(["build/", "*.log", "!keep.log", "/top.txt", "docs/**/*.tmp", "# a comment", ""])


@pytest.mark.parametrize(
    ("rel", "is_dir", "ignored"),
    [
        ("build", True, True),
        ("build/out.py", False, True),
        ("src/build", True, True),
        ("build.py", False, False),
        ("x.log", False, True),
        ("deep/x.log", False, True),
        ("keep.log", False, False),
        ("top.txt", False, True),
        ("src/top.txt", False, False),
        ("docs/a/b.tmp", False, True),
        ("docs/b.tmp", False, True),
        ("# a comment", False, False),
    ],
)
def test_patterns(rel, is_dir, ignored):
    assert RULES.ignored(rel, is_dir) is ignored
