"""The larger model a fit notice offers is offered with the window it will run with: an embedded model
loads with its n_ctx (4,096 by default), often far below the trained window the registry lists, and
was offered for files it would then leave out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from jarvis.chains.context.collect import collect
from jarvis.chains.context.project import ProjectContext
from jarvis.chains.events import Notice, RunFinished
from jarvis.chains.run_options import RunOptions
from jarvis.providers.types import GenerationOptions, Message, ModelInfo
from tests.chains.rig import build_rig
from tests.chains.scripted import ScriptedProvider


class Windowed(ScriptedProvider):
    """A model listed with a 32K window that runs with `n_ctx` (as the embedded backend does)."""

    models = ("coder",)

    def __init__(self, name: str, listed: int, n_ctx: int | None = None) -> None:
        super().__init__(name)
        self.listed, self.n_ctx = listed, n_ctx

    async def list_models(self) -> list[ModelInfo]:
        return [replace(m, context_length=self.listed) for m in await super().list_models()]

    def effective_n_ctx(self, info: ModelInfo, options: GenerationOptions | None) -> int:
        return min(self.n_ctx or info.context_length, info.context_length)

    def answer(self, model: str, messages: Sequence[Message], options: GenerationOptions | None) -> str:
        return "It adds."


async def _notices(tmp_path, n_ctx: int) -> list[str]:
    root = tmp_path / "proj"
    root.mkdir(exist_ok=True)
    for i in range(6):  # ~6 x 500 tokens: more than the small window, less than 8K
        (root / f"m{i}.py").write_text("".join(f"def f{i}_{k}(a):\n    return a * {k}\n" for k in range(50)))
    got = collect(sorted(root.glob("*.py")), root=root)
    ctx = ProjectContext(root, tuple(got.attachments))
    small, big = Windowed("small", 1536), Windowed("big", 32768, n_ctx)
    rig = build_rig([small, big], tmp_path / f"j{n_ctx}.db")
    try:
        await rig.registry.refresh()
        events = await rig.events(
            rig.orchestrator.run("explain", RunOptions(model="small/coder", context=ctx))
        )
        await rig.ledger.flush()
    finally:
        rig.ledger.close()
    assert isinstance(events[-1], RunFinished), events[-1]
    return [e.text for e in events if isinstance(e, Notice)]


async def test_a_model_whose_n_ctx_holds_the_files_is_offered_with_that_window(tmp_path):
    said = "\n".join(await _notices(tmp_path, 8192))
    assert "All the files would fit big/coder (8192-token window)" in said


async def test_a_model_whose_n_ctx_is_too_small_is_not_offered(tmp_path):
    said = "\n".join(await _notices(tmp_path, 2048))
    assert "big/coder" not in said
    assert "No known model has a window for all of it" in said
