"""Every edit is checked before anything is written, and each refusal is one sentence."""

from __future__ import annotations

import os

import pytest

from jarvis.chains.edits.review import review_answer
from tests.edits.project import FIX, PARSER, attached, make_project, no_git


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "proj")


def review(project, answer, *paths, **kw):
    return review_answer(answer, project, attached(project, *(paths or ("parser.py",))), dirty=no_git, **kw)


def test_a_matching_block_gives_one_change_with_its_patch(project):
    r = review(project, FIX)
    [change] = r.changes
    assert change.path == "parser.py" and change.after == PARSER.replace(
        'text.split(",")', 'text.split(",") if text else []'
    )
    assert '-    return text.split(",")\n+    return text.split(",") if text else []\n' in change.patch
    assert change.patch.startswith("--- a/parser.py\n+++ b/parser.py\n")
    assert [o.ok for o in r.outcomes] == [True] and r.refused == ()
    assert (project / "parser.py").read_text() == PARSER  # nothing written


def test_search_text_that_matches_nothing_names_the_closest_lines(project):
    answer = FIX.replace('    return text.split(",")\n=', '    return text.split(";")\n=')
    [out] = review(project, answer).outcomes
    assert not out.ok and out.reason.startswith("its SEARCH text matches 0 times; the closest lines")
    assert '   3 |     return text.split(",")' in out.reason


def test_search_text_that_matches_twice_is_refused_with_where(project):
    (project / "parser.py").write_text(PARSER + "\n\ndef again(text):\n" + '    return text.split(",")\n')
    [out] = review(project, FIX).outcomes
    assert out.reason == (
        "its SEARCH text matches 2 times (lines 3, 7); add lines around it to make it unique"
    )


def test_trailing_spaces_are_tolerated_and_said(project):
    answer = FIX.replace('    return text.split(",")\n=', '    return text.split(",")   \n=')
    [out] = review(project, answer).outcomes
    assert out.ok and out.note == "matched ignoring trailing spaces"


def test_a_file_changed_since_it_was_attached_is_refused(project):
    files = attached(project, "parser.py")
    (project / "parser.py").write_text(PARSER + "# mine\n")
    [out] = review_answer(FIX, project, files, dirty=no_git).outcomes
    assert out.reason == (
        "parser.py changed since it was attached (its sha256 differs); run the task again on the current file"
    )


def test_paths_that_escape_the_root_are_refused(project, tmp_path):
    outside = tmp_path / "secret.py"
    outside.write_text("x = 1\n")
    os.symlink(outside, project / "link.py")
    answer = (
        "../secret.py\n```python\nx = 2\n```\n\nlink.py\n```python\nx = 3\n```\n\n/etc/x.py\n```\ny\n```\n"
    )
    files = {"../secret.py": None, "link.py": None, "/etc/x.py": None}
    r = review_answer(answer, project, files, dirty=no_git)
    assert [o.reason.split(" is ")[1] for o in r.outcomes] == [
        f"outside the project root {project}; edits stay inside it"
    ] * 3
    assert outside.read_text() == "x = 1\n"


def test_an_edit_that_breaks_python_is_refused_whole(project):
    answer = FIX.replace("if text else []", "if text else [")
    [out] = review(project, answer).outcomes
    assert out.reason.startswith("the result would not parse as Python (line 3:")
    assert review(project, answer).changes == ()


def test_binary_and_unattached_files_are_refused(project):
    answer = "logo.png\n```\nnot an image\n```\n\ncli.py\n```python\nprint(1)\n```\n"
    r = review_answer(answer, project, attached(project, "logo.png"), dirty=no_git)
    assert [o.reason for o in r.outcomes] == [
        "logo.png is a binary file; only text files are edited",
        "cli.py was not attached to the run; attach it with -f so the answer may change it",
    ]


def test_uncommitted_changes_are_refused_unless_forced(project):
    def dirty(root, paths):
        return {"parser.py"}

    [out] = review_answer(FIX, project, attached(project, "parser.py"), dirty=dirty).outcomes
    assert (
        out.reason == "parser.py has uncommitted changes in git; commit or stash them first, or pass --force"
    )
    forced = review_answer(FIX, project, attached(project, "parser.py"), dirty=dirty, force=True)
    assert [o.ok for o in forced.outcomes] == [True]


def test_whole_file_keeps_the_final_newline_and_crlf(project):
    (project / "parser.py").write_bytes(PARSER.replace("\n", "\r\n").encode())
    answer = "parser.py\n```python\ndef parse(text):\n    return []\n```"
    [change] = review(project, answer).changes
    assert change.after_bytes == b"def parse(text):\r\n    return []\r\n"


def test_one_bad_block_does_not_hide_the_good_one(project):
    bad = "parser.py\n<<<<<<< SEARCH\nnot there\n=======\nx\n>>>>>>> REPLACE\n"
    r = review(project, FIX + "\n" + bad)
    assert [o.ok for o in r.outcomes] == [True, False] and len(r.changes) == 1
    assert r.as_json()["refused"] == 1 and r.as_json()["edits"][1]["status"] == "refused"


def test_an_edit_to_a_file_only_partly_seen_must_not_be_whole(project):
    answer = "parser.py\n```python\nx = 1\n```\n"
    [out] = review(project, answer, partial={"parser.py"}).outcomes
    assert out.reason == (
        "parser.py was only partly in the prompt, so a whole-file answer would drop the rest; ask for"
        " SEARCH/REPLACE blocks"
    )


def test_a_dedented_search_matches_with_its_indentation_added(project):
    (project / "parser.py").write_text(
        "class Parser:\n    def parse(self, text):\n        return text.split()\n"
    )
    answer = "parser.py\n<<<<<<< SEARCH\ndef parse(self, text):\n    return text.split()\n=======\n"
    answer += "def parse(self, text):\n    return text.split(',')\n>>>>>>> REPLACE\n"
    r = review(project, answer)
    assert r.outcomes[0].note == "matched with its indentation added"
    assert r.changes[0].after == "class Parser:\n    def parse(self, text):\n        return text.split(',')\n"


def test_a_whole_file_that_elides_code_or_is_a_fragment_is_refused(project):
    long = "".join(f"def f{i}():\n    return {i}\n\n\n" for i in range(10))
    (project / "parser.py").write_text(long)
    elided = "parser.py\n```python\ndef f0():\n    return 100\n\n# ... rest of the code ...\n```\n"
    [out] = review(project, elided).outcomes
    assert out.reason.startswith("the whole file it gives leaves code out (line 4: '# ... rest of the code")
    fragment = "parser.py\n```python\ndef f0():\n    return 100\n```\n"
    [cut] = review(project, fragment).outcomes
    assert cut.reason == (
        "it would cut the file from 40 to 2 lines (a fragment rather than the whole file?); pass --force to"
        " apply it anyway"
    )
    assert [o.ok for o in review(project, fragment, force=True).outcomes] == [True]
