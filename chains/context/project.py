"""What a run is given of the user's project (RunOptions.context), ready for the prompt builder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .attachment import Attachment
from .repomap import DEFAULT_MAP_TOKENS


@dataclass(frozen=True)
class ProjectContext:
    root: Path
    attachments: tuple[Attachment, ...]
    #: Notices from collecting (binary or unreadable files, a folder cut short); shown with the run.
    notices: tuple[str, ...] = ()
    #: The repo map's share of the window when a `--dir` does not fit whole.
    map_tokens: int = DEFAULT_MAP_TOKENS
    #: Where repo-map outlines are cached (the data dir); None: no cache.
    cache_dir: Path | None = None
    #: Store the files' text with the run (`--keep-context`), not only paths, hashes and token counts.
    keep_content: bool = False
    #: The `--dir` folders, relative to root ("." for root itself).
    dirs: tuple[str, ...] = ()

    @property
    def tokens(self) -> int:
        return sum(a.tokens for a in self.attachments)

    def shape(self) -> dict[str, Any]:
        """How the context was given (stored with the run's options), so a follow-up, regeneration or
        re-run attaches it the same way: -f files whole first, --dir folders walked again with their map."""
        return {
            "files": [a.rel_path for a in self.attachments if a.source == "file"],
            "dirs": list(self.dirs),
            "map_tokens": self.map_tokens,
            "keep_content": self.keep_content,
        }
