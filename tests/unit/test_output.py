"""What headless commands print: aligned tables that scripts can cut, and sentences on stderr."""

from __future__ import annotations

from jarvis.app.exit_codes import EXIT_USAGE
from jarvis.app.output import fail, print_table


def test_table_columns_line_up_and_cells_are_printed_as_written(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "20")  # a narrow terminal must not wrap or cut a row
    print_table([("MODEL", "STATUS"), ("ollama/[bold]x[/bold]:7b", "available"), ("a", ":smile: (loaded)")])
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "MODEL                     STATUS",
        "ollama/[bold]x[/bold]:7b  available",
        "a                         :smile: (loaded)",
    ]


def test_fail_prints_one_sentence_and_hands_back_the_code(capsys):
    assert fail("the task is empty.", EXIT_USAGE) == 2
    assert capsys.readouterr().err == "jarvis: the task is empty.\n"
