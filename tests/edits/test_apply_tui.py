"""The apply flow in the workbench: a run with an attached file whose answer edits it shows the diff
under the result; `a` asks, then writes; `u` puts the file back."""

from __future__ import annotations

import pytest
from textual.widgets import TextArea

from jarvis.app.config import Config
from jarvis.app.engine import build_engine
from jarvis.app.paths import resolve_paths
from jarvis.app.tui.context_panel import ContextPanel
from jarvis.app.tui.diff_view import ConfirmApply, DiffView
from jarvis.app.tui.run_view import RunView
from jarvis.app.tui.workbench import WorkbenchApp
from tests.edits.project import PARSER, make_project
from tests.edits.test_run_to_apply import Editor
from tests.tui.helpers import Told, ready, wait_until

pytestmark = pytest.mark.slow  # the review asks git about uncommitted changes

CLOSED = "http://127.0.0.1:9"  # nothing listens: Ollama and LM Studio are "not running"


def editor_app(home) -> WorkbenchApp:
    config = Config.model_validate(
        {"embedded": {"enabled": False}, "ollama": {"hosts": [{"name": "ollama", "url": CLOSED}]},
         "lmstudio": {"url": CLOSED}}
    )  # fmt: skip
    paths = resolve_paths({"JARVIS_HOME": str(home)})

    async def factory():
        engine = build_engine(config, paths)
        engine.registry.add_provider(Editor())
        return await engine.start()

    return WorkbenchApp(factory, settings_path=paths.tui_settings, on_notify=Told())


async def test_run_shows_the_diff_then_a_applies_and_u_undoes(isolated_home, tmp_path, monkeypatch):
    root = make_project(tmp_path / "proj", git=True)
    monkeypatch.chdir(root)  # the Context panel attaches from the current folder
    app = editor_app(isolated_home)
    async with app.run_test(size=(120, 50)) as pilot:
        await ready(pilot, app)
        run = app.query_one(RunView)
        assert run.query_one(ContextPanel).attach("parser.py") is None
        run.query_one("#task", TextArea).text = "parse('') must give []"
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: bool(run.query(DiffView)), 60, "the diff view")
        view = run.query_one(DiffView)
        assert app.focused is view and [c.path for c in view.review.changes] == ["parser.py"]
        assert (root / "parser.py").read_text() == PARSER  # shown, not written
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmApply), 10, "the confirm")
        await pilot.click("#confirm-yes")
        await wait_until(pilot, lambda: view.applied, 10, "the apply")
        assert "if text else []" in (root / "parser.py").read_text()
        await pilot.press("u")
        await wait_until(pilot, lambda: not view.applied, 10, "the undo")
        assert (root / "parser.py").read_text() == PARSER
