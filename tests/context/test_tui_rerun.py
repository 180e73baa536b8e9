"""History's re-run in the workbench attaches a run's files as that run was given them: its -f files,
and its folders walked again (a file added since joins), so a follow-up of the re-run walks them too."""

from __future__ import annotations

from jarvis.app.tui.context_panel import ContextPanel
from jarvis.app.tui.run_view import RunView
from jarvis.chains.context.collect import collect
from jarvis.chains.context.project import ProjectContext
from tests.context.project_fixture import make_project
from tests.tui.helpers import ready, wait_until
from tests.tui.scripted import scripted_app


async def test_history_rerun_attaches_files_and_folders_as_given(isolated_home, monkeypatch, tmp_path):
    root = make_project(tmp_path / "proj")
    monkeypatch.chdir(root)
    got = collect([root / "notes.md"], [root / "app"], root=root)
    ctx = ProjectContext(root, tuple(got.attachments), dirs=tuple(got.dirs))

    def stored(led) -> None:
        led.start_run("run_old", "chain", "explain the app", "default", None, {"context": ctx.shape()})
        led.finish_run("run_old", "completed", result={"answer": "It parses."})
        led.add_run_files("run_old", str(root), ctx.attachments)

    app, _ = scripted_app(isolated_home, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await app.engine.ledger.call_fn(stored)
        (root / "app" / "extra.py").write_text("def extra():\n    return 0\n")  # added since
        view, panel = app.query_one(RunView), app.query_one(ContextPanel)
        await app.rerun(await app.engine.ledger.run("run_old"))
        await wait_until(pilot, lambda: view.last_result is not None, 30, "the answer")
        sources = {a.rel_path: a.source for a in panel.attachments}
        assert sources["notes.md"] == "file" and sources["app/extra.py"] == "dir"
        assert sources["app/parser.py"] == "dir" and panel.dirs == ["app"]
        run = await app.engine.ledger.run(view.run_id)
    assert '"dirs": ["app"]' in run["options_json"] and '"files": ["notes.md"]' in run["options_json"]
