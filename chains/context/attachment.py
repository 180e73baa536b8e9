"""An attached file as the prompt and the ledger see it, and a stored row of one."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

#: The whole file is in the prompt.
INCLUDED = "included"
#: Only its beginning is in the prompt (the notice says how much was cut).
TRIMMED = "trimmed"
#: Not in the prompt at all: it did not fit, or it is binary or unreadable (the notice says which).
LEFT_OUT = "left_out"
#: Represented by the repo map's outline only (a `--dir` file that did not fit whole).
MAP = "map"
STATUSES = (INCLUDED, TRIMMED, LEFT_OUT, MAP)


@dataclass(frozen=True)
class Attachment:
    """One file attached to a run: what it is (hash, size), what it costs (tokens) and what got in."""

    rel_path: str
    abs_path: Path
    sha256: str
    size: int
    tokens: int
    text: str = field(repr=False)
    status: str = INCLUDED
    #: Why it is not included whole ("binary file", "did not fit: 1,200 tokens over the window").
    reason: str | None = None
    #: "file" (named with -f: the user wants it whole) or "dir" (came with --dir: the map may stand in).
    source: str = "file"

    def with_status(
        self, status: str, *, text: str | None = None, reason: str | None = None, tokens: int | None = None
    ) -> Attachment:
        return replace(
            self,
            status=status,
            text=self.text if text is None else text,
            reason=reason,
            tokens=self.tokens if tokens is None else tokens,
        )

    def as_json(self) -> dict[str, object]:
        """What `--json` and exports show: never the content."""
        return {
            "path": self.rel_path,
            "sha256": self.sha256,
            "size": self.size,
            "tokens": self.tokens,
            "status": self.status,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RunFile:
    """A file attached to a finished run, as the ledger stored it (``content`` only if kept)."""

    run_id: str
    root: str
    path: str
    sha256: str | None
    size: int | None
    tokens: int | None
    status: str
    content: str | None = None

    @property
    def abs_path(self) -> Path:
        return Path(self.root) / self.path
