"""A follow-up, regeneration, fork or re-run of a run given -f and --dir attaches its files the way that
run was given them: -f files whole first, the --dir folder walked again with its repo map, the same map
budget. (They used to come back as if every file of the folder had been named with -f: no map, a notice
per file that did not fit.)"""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import SimpleNamespace

from jarvis.app.run_context import rerun_source
from jarvis.app.thread_commands import going_on, with_files
from jarvis.chains import threads
from jarvis.chains.context.collect import collect
from jarvis.chains.context.project import ProjectContext
from jarvis.chains.events import RunFinished
from jarvis.chains.ledger import Ledger
from jarvis.chains.run_options import RunOptions
from jarvis.providers.types import GenerationOptions, Message
from tests.chains.rig import build_rig
from tests.chains.scripted import ScriptedProvider


def _project(tmp_path):
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "cli.py").write_text("import pkg\n")
    (root / "pkg" / "b.py").write_text("def b():\n    return 1\n")
    (root / "pkg" / "c.py").write_text("def c():\n    return 2\n")
    got = collect([root / "cli.py"], [root / "pkg"], root=root)
    ctx = ProjectContext(
        root,
        tuple(got.attachments),
        tuple(got.notices),
        map_tokens=256,
        keep_content=True,
        dirs=tuple(got.dirs),
    )
    return root, ctx


def _recorded(ledger: Ledger, ctx: ProjectContext) -> None:
    ledger.start_run(
        "run_1", "chain", "explain pkg", "default", None, {"chain": "default", "context": ctx.shape()}
    )
    ledger.finish_run("run_1", "completed", result={"answer": "it adds"})
    ledger.add_run_files("run_1", str(ctx.root), ctx.attachments)


def _sources(ctx: ProjectContext) -> dict[str, str]:
    return {a.rel_path: a.source for a in ctx.attachments}


def test_shape_names_the_f_files_and_the_folders(tmp_path):
    _, ctx = _project(tmp_path)
    assert ctx.shape() == {"files": ["cli.py"], "dirs": ["pkg"], "map_tokens": 256, "keep_content": True}


def test_continue_regenerate_and_fork_walk_the_folder_again_with_its_map(tmp_path):
    root, ctx = _project(tmp_path)
    ledger = Ledger(":memory:")
    try:
        _recorded(ledger, ctx)
        (root / "pkg" / "d.py").write_text("def d():\n    return 3\n")  # joins: the folder is read now
        expected = {"cli.py": "file", "pkg/b.py": "dir", "pkg/c.py": "dir", "pkg/d.py": "dir"}
        follow = threads.continuation(ledger, "run_1")
        cont = going_on(RunOptions(), follow, chain_given=False, cache_dir=tmp_path / "maps").context
        _, again = threads.regeneration(ledger, "run_1")
        regen = with_files(RunOptions(), again, tmp_path / "maps").context
        forked = going_on(RunOptions(), threads.fork(ledger, "run_1"), chain_given=False).context
    finally:
        ledger.close()
    for got in (cont, regen, forked):
        assert _sources(got) == expected
        assert (got.map_tokens, got.keep_content, got.dirs) == (256, True, ("pkg",))
    assert cont.cache_dir == regen.cache_dir == tmp_path / "maps"


def test_a_run_recorded_without_a_shape_still_attaches_its_files(tmp_path):
    root, ctx = _project(tmp_path)
    ledger = Ledger(":memory:")
    try:
        ledger.start_run("run_1", "chain", "explain pkg", "default", None, {"chain": "default"})
        ledger.finish_run("run_1", "completed", result={"answer": "it adds"})
        ledger.add_run_files("run_1", str(root), ctx.attachments)
        follow = threads.continuation(ledger, "run_1")
    finally:
        ledger.close()
    got = with_files(RunOptions(), follow).context
    assert sorted(_sources(got)) == ["cli.py", "pkg/b.py", "pkg/c.py"]


def test_rerun_keeps_each_files_role_and_the_map_budget(tmp_path):
    _, ctx = _project(tmp_path)
    ledger = Ledger(tmp_path / "jarvis.db")
    try:
        _recorded(ledger, ctx)
    finally:
        ledger.close()
    paths = SimpleNamespace(database=tmp_path / "jarvis.db", data_dir=tmp_path)
    (ctx.root / "pkg" / "d.py").write_text("def d():\n    return 3\n")
    task, _, again = rerun_source(paths, "run_1")
    assert task == "explain pkg"
    assert _sources(again) == {"cli.py": "file", "pkg/b.py": "dir", "pkg/c.py": "dir", "pkg/d.py": "dir"}
    assert (again.map_tokens, again.keep_content, again.dirs) == (256, True, ("pkg",))


class Reader(ScriptedProvider):
    models = ("coder-7b",)

    def __init__(self) -> None:
        super().__init__("script")

    def answer(self, model: str, messages: Sequence[Message], options: GenerationOptions | None) -> str:
        return "It adds."


async def test_the_engine_stores_how_the_files_were_given(tmp_path):
    _, ctx = _project(tmp_path)
    rig = build_rig([Reader()], tmp_path / "jarvis.db")
    try:
        await rig.registry.refresh()
        events = await rig.events(rig.orchestrator.run("explain pkg", RunOptions(context=ctx)))
        assert isinstance(events[-1], RunFinished), events[-1]
        await rig.ledger.flush()
        run = await rig.ledger.run(events[-1].run_id)
    finally:
        rig.ledger.close()
    assert json.loads(run["options_json"])["context"] == ctx.shape()


def test_a_recorded_file_the_shape_does_not_name_still_goes(tmp_path):
    from jarvis.app.run_context import given_again

    root, _ = _project(tmp_path)
    (root / "other.py").write_text("y = 1\n")
    recorded = [root / "cli.py", root / "pkg" / "b.py", root / "other.py"]
    files, dirs = given_again(root, recorded, {"files": ["cli.py"], "dirs": ["pkg"]})
    assert (files, dirs) == ([root / "cli.py", root / "other.py"], [(root / "pkg").resolve()])
    assert given_again(root, recorded, {}) == (recorded, [])


def test_the_context_panel_remembers_the_folders_it_attached(tmp_path):
    from jarvis.app.tui.context_panel import ContextPanel

    root, _ = _project(tmp_path)
    panel = ContextPanel(base=root)
    panel._show = lambda: None  # not mounted: only its bookkeeping is tested here
    assert panel.attach("cli.py") is None and panel.attach("pkg") is None
    ctx = panel.project_context()
    assert ctx.shape()["files"] == ["cli.py"] and ctx.dirs == ("pkg",)
    panel.clear()
    assert panel.dirs == []
