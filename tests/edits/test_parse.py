"""Reading edits out of answers the way models actually write them."""

from __future__ import annotations

from jarvis.chains.edits.formats import SEARCH_REPLACE, WHOLE, EditSettings, edit_instructions, format_for
from jarvis.chains.edits.parse import clean_path, parse_edits


def test_search_replace_block_with_path_line_inside_a_fence():
    [edit] = parse_edits("x.py\n```python\n<<<<<<< SEARCH\na = 1\n=======\na = 2\n>>>>>>> REPLACE\n```\n")
    assert (edit.path, edit.kind, edit.search, edit.replace) == ("x.py", SEARCH_REPLACE, "a = 1\n", "a = 2\n")


def test_whole_file_with_decorated_path_and_bare_names_resolved_to_the_attached_path():
    answer = "**`src/app.py`**\n~~~python\nprint(1)\n~~~\n\n### File: util.py\n```\nx = 1\n```\n"
    edits = parse_edits(answer, ["src/app.py", "pkg/util.py"])
    assert [(e.path, e.kind, e.replace) for e in edits] == [
        ("src/app.py", WHOLE, "print(1)\n"),
        ("pkg/util.py", WHOLE, "x = 1\n"),
    ]


def test_path_in_the_fence_info_string():
    [edit] = parse_edits('```python title="app.py"\nprint(2)\n```', ["app.py"])
    assert (edit.path, edit.replace) == ("app.py", "print(2)\n")


def test_plain_code_without_a_path_is_not_an_edit():
    assert parse_edits("Use it like this:\n```python\nparse('a')\n```\n", ["parser.py"]) == []


def test_announced_whole_file_counts_but_a_usage_snippet_does_not():
    edits = parse_edits("Here is the updated `parser.py`:\n```python\nx = 1\n```\n", ["parser.py"])
    assert [(e.path, e.kind) for e in edits] == [("parser.py", WHOLE)]
    assert parse_edits("Call `parser.py` like this:\n```python\nx = 1\n```\n", ["parser.py"]) == []


def test_a_block_without_a_path_goes_to_the_only_attached_file_or_follows_the_previous_one():
    block = "<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n"
    assert parse_edits(block, ["only.py"])[0].path == "only.py"
    two = parse_edits("one.py\n" + block + "\n" + block, ["one.py", "two.py"])
    assert [e.path for e in two] == ["one.py", "one.py"]
    [orphan] = parse_edits(block, ["one.py", "two.py"])
    assert orphan.problem and "no file path" in orphan.problem


def test_cut_off_answers_become_edits_with_a_problem_not_silence():
    [block] = parse_edits("x.py\n<<<<<<< SEARCH\na = 1\n=======\na = 2\n")
    assert block.problem == "the block has no '>>>>>>> REPLACE' line (the answer may have been cut off)"
    [whole] = parse_edits("x.py\n```python\nprint(1)\n")
    assert whole.problem and "never closed" in whole.problem


def test_windows_line_endings_and_a_missing_final_newline():
    [edit] = parse_edits("x.py\r\n<<<<<<< SEARCH\r\na\r\n=======\r\nb\r\n>>>>>>> REPLACE")
    assert (edit.search, edit.replace) == ("a\n", "b\n")


def test_clean_path_accepts_paths_only():
    assert clean_path("**src/cli.py**:") == "src/cli.py"
    assert clean_path("# ./cli.py") == "cli.py"
    assert clean_path("Here is the code:") is None
    assert clean_path("python") is None


def test_instructions_ask_small_files_whole_and_large_ones_as_blocks():
    class File:
        def __init__(self, rel_path: str, lines: int) -> None:
            self.rel_path, self.text = rel_path, "x = 1\n" * lines

    settings = EditSettings(whole_file_max_lines=50)
    assert format_for("a\n" * 10, settings) == WHOLE and format_for("a\n" * 80, settings) == SEARCH_REPLACE
    text = edit_instructions([File("small.py", 10), File("big.py", 400)], settings)
    assert "To change small.py" in text and "WHOLE new file" in text
    assert "To change big.py" in text and "<<<<<<< SEARCH" in text
    assert edit_instructions([]) == ""
    partly = edit_instructions([File("small.py", 10)], settings, partial={"small.py"})
    assert "To change small.py" in partly and "WHOLE" not in partly and "<<<<<<< SEARCH" in partly


def test_a_misspelt_path_resolves_to_the_one_close_attached_file():
    [edit] = parse_edits("parsr.py\n```python\nx = 1\n```\n", ["parser.py", "cli.py"])
    assert edit.path == "parser.py"
