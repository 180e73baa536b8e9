"""KeyLine: the keys that work now, on one row; clicking one presses it.

Textual's Footer composes a widget per key and recomposes them after the first frame; this draws
the same information as one line of text and repaints when the screen's bindings change.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget


class KeyLine(Widget):
    DEFAULT_CSS = """
    KeyLine { height: 1; width: 1fr; background: $panel; }
    KeyLine > .key-line--key { color: $accent; text-style: bold; }
    KeyLine > .key-line--description { color: $text; }
    """
    COMPONENT_CLASSES = {"key-line--key", "key-line--description"}

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, lambda _screen: self.refresh())

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def keys(self) -> list[tuple[str, str, str]]:
        """(key, how it is shown, description) for each shown binding, one per action: the focused
        widget's first, then the app's in the order it declares them, the palette last."""
        app = self.app
        active = self.screen.active_bindings
        app_order: dict[str, int] = {}
        for i, b in enumerate(app.BINDINGS):
            app_order.setdefault(b.action if isinstance(b, Binding) else b[1], i)
        seen: set[str] = set()
        found = []
        for _node, binding, enabled, _tooltip in active.values():
            if binding.show and enabled and binding.action not in seen:
                seen.add(binding.action)
                found.append(binding)
        found.sort(key=lambda b: app_order.get(b.action, -1))
        shown = [(b.key, app.get_key_display(b), b.description) for b in found]
        palette = active.get(app.COMMAND_PALETTE_BINDING) if app.ENABLE_COMMAND_PALETTE else None
        if palette is not None:
            shown.append((palette.binding.key, app.get_key_display(palette.binding), "Commands"))
        return shown

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-line--key", partial=True)
        text_style = self.get_component_rich_style("key-line--description", partial=True)
        line = Text(no_wrap=True, overflow="ellipsis")
        for key, display, description in self.keys():
            click = Style(meta={"@click": f"app.simulate_key({key!r})"})
            line.append(f" {display} ", key_style + click)
            line.append(f"{description} ", text_style + click)
        return line
