"""PickList: a SelectionList whose focus always lands on an item, so the first space picks it."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widgets import SelectionList


class PickList(SelectionList[str]):
    """Textual highlights the first item only of options given to the constructor; a list filled
    later (the Compare view's models arrive after discovery) had nothing highlighted, so a keyboard
    user's first space was ignored and their first pick silently lost."""

    def on_focus(self) -> None:
        self._highlight_first()

    def replace(self, values: Iterable[str]) -> None:
        """Offers `values` (shown as themselves), keeping the picks that are still offered."""
        values = list(values)
        kept = [v for v in self.selected if v in values]
        self.clear_options()
        self.add_options([(v, v, v in kept) for v in values])
        if self.has_focus:
            self._highlight_first()

    def _highlight_first(self) -> None:
        if self.highlighted is None and self.option_count:
            self.highlighted = 0
