"""The Run view's Context panel: the files attached to the next run, each with its token count, the
total against the chosen model's window once a run has said it, and `delete` to remove one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

if TYPE_CHECKING:
    from jarvis.chains.context.attachment import Attachment
    from jarvis.chains.context.project import ProjectContext


class ContextPanel(Vertical):
    DEFAULT_CSS = """
    ContextPanel { display: none; height: auto; max-height: 10; border: round $primary; padding: 0 1; }
    ContextPanel.attached { display: block; }
    ContextPanel #context-files { height: auto; max-height: 6; border: none; }
    ContextPanel #context-total { color: $text-muted; }
    ContextPanel #context-notices { color: $warning; }
    """
    BINDINGS = [Binding("delete,backspace,x", "remove", "remove file")]

    def __init__(self, base: Path | None = None, **kw) -> None:
        super().__init__(**kw)
        self.base = base
        #: Attached files in order, read when attached (their token counts are estimates until a run).
        self.attachments: list[Attachment] = []
        #: The last run's view: window, status per path, notices.
        self.fit: dict[str, Any] | None = None
        #: Folders attached whole (relative to the base), so a follow-up walks them again.
        self.dirs: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("Context", id="context-title")
        yield OptionList(id="context-files")
        yield Static("", id="context-total")
        yield Static("", id="context-notices", markup=False)

    def _folder(self) -> Path:
        return self.base or Path.cwd()

    def attach(self, path: str) -> str | None:
        """Attach a file (or every file of a folder); returns a sentence when it cannot be."""
        from jarvis.chains.context.collect import ContextError, collect

        target = self._folder() / path
        try:
            got = (
                collect(dirs=[target], root=self._folder())
                if target.is_dir()
                else collect([target], root=self._folder())
            )
        except ContextError as err:
            return str(err)
        known = {a.rel_path for a in self.attachments}
        self.attachments += [a for a in got.attachments if a.rel_path not in known]
        self.dirs += [d for d in got.dirs if d not in self.dirs]
        self.fit = None
        self._show()
        return got.notices[0] if got.notices else None

    def action_remove(self) -> None:
        files = self.query_one("#context-files", OptionList)
        if files.highlighted is None or not self.attachments:
            return
        del self.attachments[files.highlighted]
        self._show()

    def clear(self) -> None:
        self.attachments = []
        self.dirs = []
        self.fit = None
        self._show()

    def project_context(self, cache_dir: Path | None = None) -> ProjectContext | None:
        if not self.attachments:
            return None
        from jarvis.chains.context.project import ProjectContext

        return ProjectContext(
            self._folder().resolve(), tuple(self.attachments), cache_dir=cache_dir, dirs=tuple(self.dirs)
        )

    def show_fit(self, event) -> None:
        """A ContextFitted event: what reached the model, against its window."""
        self.fit = {
            "window": event.window,
            "model": event.model_id,
            "tokens": event.tokens,
            "status": {f["path"]: f["status"] for f in event.files},
            "notices": list(event.notices),
        }
        self._show()

    def _show(self) -> None:
        self.set_class(bool(self.attachments), "attached")
        files = self.query_one("#context-files", OptionList)
        highlighted = files.highlighted
        status = (self.fit or {}).get("status", {})
        files.set_options(
            Option(f"{a.rel_path}  {a.tokens:,} tokens{_status_word(status.get(a.rel_path, a.status))}")
            for a in self.attachments
        )
        if self.attachments:
            files.highlighted = min(highlighted or 0, len(self.attachments) - 1)
        total = sum(a.tokens for a in self.attachments)
        fit = self.fit
        window = (
            f" · {fit['tokens']:,} sent of {fit['model']}'s {fit['window']:,}-token window"
            if fit and fit.get("window")
            else ""
        )
        self.query_one("#context-total", Static).update(
            f"{len(self.attachments)} file(s), {total:,} tokens{window} · del removes"
        )
        self.query_one("#context-notices", Static).update("\n".join((fit or {}).get("notices", [])))


def _status_word(status: str) -> str:
    return {"included": "", "trimmed": " · trimmed", "left_out": " · left out", "map": " · outline only"}.get(
        status, ""
    )
