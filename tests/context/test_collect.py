"""Collecting -f files and --dir folders: .gitignore respected (git's view in a work tree, our matcher
outside one), binary files named and skipped, hashes and token counts."""

from __future__ import annotations

import hashlib

import pytest

from jarvis.chains.context.attachment import INCLUDED, LEFT_OUT
from jarvis.chains.context.collect import ContextError, collect
from jarvis.chains.context.tokens import estimate_tokens
from tests.context.project_fixture import PARSER, make_project

pytestmark = pytest.mark.slow  # collecting a folder asks git (a subprocess) whether it is a work tree


@pytest.mark.parametrize("git", [True, False])
def test_folder_respects_gitignore_and_skips_binary_files(tmp_path, git):
    root = make_project(tmp_path / "proj", git=git)
    got = collect(dirs=[root])
    paths = {a.rel_path: a for a in got.attachments}
    assert set(paths) == {".gitignore", "app/cli.py", "app/parser.py", "app/util.py", "logo.png", "notes.md"}
    assert paths["logo.png"].status == LEFT_OUT and paths["logo.png"].reason == "it is a binary file"
    assert got.notices == ["logo.png is not attached: it is a binary file."]
    parser = paths["app/parser.py"]
    assert parser.status == INCLUDED and parser.source == "dir" and parser.text == PARSER
    assert parser.sha256 == hashlib.sha256(PARSER.encode()).hexdigest() and parser.size == len(PARSER)
    assert parser.tokens == estimate_tokens(PARSER)
    assert got.root == root and got.dirs == ["."]


def test_files_then_a_folder_each_once_relative_to_their_common_root(tmp_path, monkeypatch):
    root = make_project(tmp_path / "proj", git=True)
    monkeypatch.chdir(root)
    got = collect(["app/cli.py"], ["app"])
    assert [(a.rel_path, a.source) for a in got.attachments] == [
        ("app/cli.py", "file"),
        ("app/parser.py", "dir"),
        ("app/util.py", "dir"),
    ]


def test_missing_paths_and_a_folder_given_as_a_file_are_one_sentence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ContextError, match="The file nope.py does not exist"):
        collect(["nope.py"])
    (tmp_path / "d").mkdir()
    with pytest.raises(ContextError, match="is a folder: attach it with --dir"):
        collect(["d"])


@pytest.mark.parametrize("git", [True, False])
def test_a_folder_with_nothing_to_attach_is_said_and_alone_stops_the_run(tmp_path, monkeypatch, git):
    """Outside git too, the root's .gitignore applies to a subfolder given with --dir."""
    from types import SimpleNamespace

    from jarvis.app.run_context import ContextInputError, context_from_args

    root = make_project(tmp_path / "proj", git=git)
    (root / ".gitignore").write_text((root / ".gitignore").read_text() + "gen/\n")
    (root / "gen").mkdir()
    (root / "gen" / "out.py").write_text("x = 1\n")  # ignored: git (or our matcher) leaves nothing of gen
    (root / "empty").mkdir()
    monkeypatch.chdir(root)
    (root / "app" / "debug.log").write_text("noise\n")  # *.log in the root's .gitignore, git or not
    got = collect(dirs=[root / "gen", root / "app"])
    assert any(a.rel_path == "app/cli.py" for a in got.attachments)
    assert not any(a.rel_path.endswith(".log") for a in got.attachments)
    assert got.notices[0].endswith(
        "gen has no files to attach: it is empty, or .gitignore leaves nothing of it"
        " (name the files you want with -f)."
    )
    args = SimpleNamespace(files=[], dirs=["gen", "empty"], map_tokens=None, keep_context=False)
    with pytest.raises(ContextInputError, match="empty has no files to attach"):
        context_from_args(SimpleNamespace(data_dir=tmp_path), args)
