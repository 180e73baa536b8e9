"""How headless commands print: one-sentence errors on stderr, aligned tables, one JSON document."""

from __future__ import annotations

import json
import sys
from typing import Any


def fail(message: str, code: int) -> int:
    """Print ``jarvis: message`` on stderr and hand back ``code`` for the command to return."""
    print(f"jarvis: {message}", file=sys.stderr)
    return code


def emit_json(doc: Any) -> None:
    print(json.dumps(doc, indent=2, default=str))


def print_table(rows: list[tuple[str, ...]]) -> None:
    """The first row is the header; columns are left-aligned and as wide as their widest cell."""
    # rich comes with Textual; imported here so that commands without tables never load it.
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    header, *body = rows
    # No rules: two spaces between columns, the plain layout scripts have always parsed.
    table = Table(*header, box=None, pad_edge=False, header_style="bold", padding=(0, 1))
    for row in body:
        table.add_row(*(Text(cell) for cell in row))  # Text: a model id like "[x]" is not rich markup
    # Scripts pipe this output: never wrap or cut a cell to fit a terminal, and no colour codes in a pipe.
    console = Console(width=10_000, soft_wrap=True, highlight=False)
    with console.capture() as capture:
        console.print(table)
    print("\n".join(line.rstrip() for line in capture.get().splitlines()))
