"""LiveText and StreamView: the streaming text views grow, scroll and wrap as a reader expects."""

from __future__ import annotations

import gc

from textual.app import App, ComposeResult
from textual.containers import Vertical

from jarvis.app.tui.gc_policy import YOUNG_THRESHOLD, pause_during_startup, settle_after_startup
from jarvis.app.tui.live_text import LiveText, wrap
from jarvis.app.tui.stream_view import StreamView
from tests.tui.helpers import wait_until


class Host(App):
    CSS = "#box { height: 1fr; }"

    def __init__(self, fill: bool) -> None:
        super().__init__()
        self.view = StreamView(fill=fill)

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            yield self.view

    async def stream(self, pilot, text: str) -> None:
        """Text arrives and the pane's timer flushes it; the messages that sends are handled."""
        self.view.append(text)
        self.view.flush()
        await pilot.pause()


def screen_text(app: App) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def numbered(first: int, last: int) -> str:
    return "".join(f"line {i}\n" for i in range(first, last))


def test_wrap_breaks_at_words_and_long_words():
    assert wrap("short", 10) == ["short"]
    assert wrap("alpha beta gamma", 10) == ["alpha beta", "gamma"]
    assert wrap("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


async def test_auto_height_grows_to_its_cap_then_follows_the_end():
    app = Host(fill=False)
    async with app.run_test(size=(60, 40)) as pilot:
        live = app.query_one(LiveText)
        await app.stream(pilot, numbered(0, 5))
        await wait_until(pilot, lambda: live.size.height == 6, 10, "five lines and the open last one")
        await app.stream(pilot, numbered(5, 100))
        await wait_until(pilot, lambda: live.size.height == 24, 10, "the cap of a live answer (24 rows)")
        await app.stream(pilot, numbered(100, 200))
        await wait_until(pilot, lambda: "line 199" in screen_text(app), 10, "the newest text on screen")
        assert live.size.height == 24 and "line 150" not in screen_text(app)  # following the newest text
        assert app.view.text == numbered(0, 200)


async def test_scrolled_back_reader_is_not_pulled_to_the_end():
    app = Host(fill=True)
    async with app.run_test(size=(60, 20)) as pilot:
        live = app.query_one(LiveText)
        await app.stream(pilot, numbered(0, 100))
        await wait_until(pilot, lambda: "line 99" in screen_text(app), 10, "the first 100 lines")
        assert live.size.height == 20  # fill: the pane's height, whatever the content
        live.scroll_to(y=0, animate=False, immediate=True)
        await app.stream(pilot, numbered(100, 150))
        await wait_until(pilot, lambda: live.virtual_size.height == 151, 10, "the scrollbar's new rows")
        await wait_until(pilot, lambda: "line 0" in screen_text(app), 10, "the reader's place on screen")
        assert live.scroll_y == 0 and live.size.height == 20 and "line 149" not in screen_text(app)


async def test_resize_rewraps_everything():
    app = Host(fill=True)
    async with app.run_test(size=(60, 20)) as pilot:
        live = app.query_one(LiveText)
        await app.stream(pilot, "word " * 40)
        await wait_until(pilot, lambda: "word" in screen_text(app), 10, "the text on screen")
        wide_rows = live.virtual_size.height
        await pilot.resize_terminal(30, 20)
        await wait_until(pilot, lambda: live.virtual_size.height > wide_rows, 10, "the rewrap at 30 columns")
        assert all(len(row) <= live.scrollable_content_region.width for row in live._rows)
        assert live.text == "word " * 40


async def test_finish_renders_markdown_with_the_same_text():
    app = Host(fill=False)
    async with app.run_test(size=(60, 20)) as pilot:
        app.view.append("# Title\n\n```python\nprint('hi')\n```\n")
        await app.view.finish()
        await wait_until(pilot, lambda: "print('hi')" in screen_text(app), 10, "the rendered Markdown")
        assert not app.query(LiveText) and "# Title" not in screen_text(app)


def test_gc_policy_pauses_for_startup_then_freezes_it_and_raises_the_young_threshold():
    before = gc.get_threshold()
    try:
        pause_during_startup()
        assert not gc.isenabled()
        settle_after_startup()
        assert gc.isenabled()
        assert gc.get_freeze_count() > 10_000
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
    finally:
        gc.enable()
        gc.unfreeze()
        gc.set_threshold(*before)
