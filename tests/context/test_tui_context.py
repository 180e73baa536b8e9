"""Pilot flows: `@` in the task box completes paths and attaches the file; the Context panel lists it
with its tokens, shows what reached the model against its window after a run, and `delete` removes it."""

from __future__ import annotations

from textual.widgets import OptionList

from jarvis.app.tui.context_panel import ContextPanel
from jarvis.app.tui.path_complete import PathChoices, path_choices
from jarvis.app.tui.run_view import RunView
from tests.context.project_fixture import make_project
from tests.context.test_tui_helpers import heard_prompts
from tests.tui.helpers import ready, wait_until
from tests.tui.scripted import scripted_app


def test_path_choices_complete_folders_first_and_hide_dot_files(tmp_path):
    root = make_project(tmp_path / "proj")
    assert path_choices(root, "") == ["app/", "build/", "debug.log", "logo.png", "notes.md"]
    assert path_choices(root, "app/p") == ["app/parser.py"]
    assert path_choices(root, ".git") == [".gitignore"]
    assert path_choices(root, "nope/x") == []


async def test_at_completes_a_path_attaches_it_and_the_panel_counts_and_removes(
    isolated_home, monkeypatch, tmp_path
):
    root = make_project(tmp_path / "proj")
    monkeypatch.chdir(root)
    app, provider = scripted_app(isolated_home, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        calls = heard_prompts(provider)
        view = app.query_one(RunView)
        choices = view.query_one(PathChoices)
        panel = view.query_one(ContextPanel)
        assert not panel.display or not panel.has_class("attached"), "no panel before a file is attached"
        await pilot.press(*"Explain @ap")
        await wait_until(pilot, lambda: choices.is_open, 5, "the completions")
        assert [str(o.prompt) for o in choices.options] == ["app/"]
        await pilot.press("tab")  # a folder: completed, and its files offered next
        assert view.query_one("#task").text == "Explain @app/"
        assert [str(o.prompt) for o in choices.options] == ["app/cli.py", "app/parser.py", "app/util.py"]
        await pilot.press("down", "enter")
        assert view.query_one("#task").text == "Explain @app/parser.py "
        assert not choices.is_open
        await wait_until(pilot, lambda: panel.has_class("attached"), 5, "the Context panel")
        [attached] = panel.attachments
        assert attached.rel_path == "app/parser.py" and attached.tokens > 0
        total = str(panel.query_one("#context-total").render())
        assert f"1 file(s), {attached.tokens:,} tokens" in total

        await pilot.press(*"please", "ctrl+r")
        await wait_until(pilot, lambda: view.last_result is not None, 30, "the answer")
        prompt = calls[-1][-1][1]
        assert "File: app/parser.py\n```python\n" in prompt and "def parse(text: str)" in prompt
        await wait_until(pilot, lambda: panel.fit is not None, 5, "the fit")
        assert "sent of" in str(panel.query_one("#context-total").render())
        files = await app.engine.ledger.run_files(view.run_id)
        assert [(f.path, f.status) for f in files] == [("app/parser.py", "included")]

        panel.query_one("#context-files", OptionList).focus()
        await pilot.press("delete")
        assert panel.attachments == [] and not panel.has_class("attached")
