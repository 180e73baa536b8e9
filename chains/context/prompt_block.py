"""The fixed format attached files take in a prompt, which the shipped chains' prompts explain:

    <<<PROJECT CONTEXT
    Repository map (outline of files not shown whole):
    app/cli.py:
      def main(argv: list[str] | None=None) -> int

    File: app/run_commands.py
    ```python
    ...the file...
    ```
    PROJECT CONTEXT>>>

One delimited block, each file a `File:` line and a fenced block tagged with its language; a fence is
longer than any run of backticks inside the file, so a Markdown file cannot end it early.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .attachment import Attachment
from .tokens import estimate_tokens

BEGIN = "<<<PROJECT CONTEXT"
END = "PROJECT CONTEXT>>>"
#: What the prompt says before the block, once (prompts.py puts it with the block).
PREAMBLE = (
    "The user attached files from their project. They are between <<<PROJECT CONTEXT and"
    " PROJECT CONTEXT>>>, each as a `File: path` line and a fenced block; paths are relative to the"
    " project root. Refer to files by these paths."
)
_LANGS = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript", ".jsx": "jsx",
    ".ts": "typescript", ".tsx": "tsx", ".go": "go", ".rs": "rust", ".java": "java", ".kt": "kotlin",
    ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".hpp": "cpp", ".cs": "csharp", ".rb": "ruby",
    ".php": "php", ".swift": "swift", ".sh": "bash", ".md": "markdown", ".toml": "toml", ".json": "json",
    ".yaml": "yaml", ".yml": "yaml", ".html": "html", ".css": "css", ".sql": "sql", ".txt": "text",
    ".cfg": "ini", ".ini": "ini",
}  # fmt: skip
_TICKS = re.compile(r"`{3,}")


def language_of(path: str) -> str:
    dot = path.rfind(".")
    return _LANGS.get(path[dot:].lower(), "") if dot >= 0 else ""


def fence_for(text: str) -> str:
    longest = max((len(m) for m in _TICKS.findall(text)), default=0)
    return "`" * max(3, longest + 1)


def file_block(path: str, text: str) -> str:
    fence = fence_for(text)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"File: {path}\n{fence}{language_of(path)}\n{body}{fence}\n"


def file_block_tokens(a: Attachment) -> int:
    """The file's tokens plus its header and fences."""
    return a.tokens + estimate_tokens(f"File: {a.rel_path}\n```{language_of(a.rel_path)}\n\n```\n") + 1


def context_block(files: Sequence[tuple[str, str]], repo_map: str = "") -> str:
    """``files``: (path, text to show) pairs in prompt order; ``repo_map``: the rendered map or ''."""
    parts = [BEGIN]
    if repo_map:
        parts.append("Repository map (outline of files not shown whole):\n" + repo_map + "\n")
    parts.extend(file_block(p, t) for p, t in files)
    parts.append(END)
    return "\n".join(parts)


#: Tokens of the block's own lines (delimiters, map heading, the preamble).
BLOCK_OVERHEAD = (
    estimate_tokens(PREAMBLE + BEGIN + END + "Repository map (outline of files not shown whole):") + 8
)
