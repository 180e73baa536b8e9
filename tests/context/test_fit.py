"""Fitting attached files to a window: what is in, trimmed or left out, and the sentences saying so."""

from __future__ import annotations

from pathlib import Path

from jarvis.chains.context.attachment import INCLUDED, LEFT_OUT, MAP, TRIMMED, Attachment
from jarvis.chains.context.fit import fit
from jarvis.chains.context.project import ProjectContext
from jarvis.chains.context.prompt_block import BEGIN, BLOCK_OVERHEAD, END, fence_for, file_block
from jarvis.chains.context.tokens import estimate_tokens


def _att(path: str, text: str, source: str = "file", root: Path = Path("/p")) -> Attachment:
    return Attachment(path, root / path, "0" * 64, len(text), estimate_tokens(text), text, source=source)


def test_everything_fits_in_the_fixed_format_with_language_tags():
    ctx = ProjectContext(Path("/p"), (_att("a.py", "x = 1\n"), _att("README.md", "hi\n")))
    got = fit(ctx, budget=5000, model_id="m", window=8000)
    assert [a.status for a in got.attachments] == [INCLUDED, INCLUDED]
    assert got.notices == []
    assert BEGIN in got.block and got.block.rstrip().endswith(END)
    assert (
        "File: a.py\n```python\nx = 1\n```" in got.block
        and "File: README.md\n```markdown\nhi\n```" in got.block
    )
    assert got.tokens == estimate_tokens(got.block)


def test_a_fence_inside_a_file_cannot_close_its_block():
    text = "```python\nprint(1)\n```\n"
    assert fence_for(text) == "````"
    assert file_block("n.md", text) == f"File: n.md\n````markdown\n{text}````\n"


def test_small_window_trims_then_leaves_out_and_names_each_file_and_a_bigger_model():
    small = _att("small.py", "a = 1\n")
    big = _att("big.py", "".join(f"value_{i} = {i}\n" for i in range(400)))
    other = _att("other.py", "b = 2\n" * 50)
    ctx = ProjectContext(Path("/p"), (small, big, other))
    asked: list[int] = []

    def suggest(need: int) -> str:
        asked.append(need)
        return "ollama/big:7b (32768-token window)"

    got = fit(ctx, budget=400, model_id="tiny", window=1024, suggest=suggest)
    status = {a.rel_path: a.status for a in got.attachments}
    assert status == {"small.py": INCLUDED, "big.py": TRIMMED, "other.py": LEFT_OUT}
    trimmed = next(a for a in got.attachments if a.rel_path == "big.py")
    assert trimmed.tokens < big.tokens and "value_0 = 0" in trimmed.text and "value_399" not in trimmed.text
    assert "value_0 = 0" in got.block and "b = 2" not in got.block
    said = " ".join(got.notices)
    assert "big.py was trimmed to its first" in said and "tiny's 1024-token window" in said
    assert "other.py (" in said and "was left out" in said
    assert "--model ollama/big:7b" in said
    # The window needed grows by what did not fit: more than this one, enough for all three files.
    assert asked and asked[0] > 1024 + big.tokens - 400


def test_no_larger_model_is_said_too():
    ctx = ProjectContext(Path("/p"), (_att("big.py", "z = 0\n" * 2000),))
    got = fit(ctx, budget=50, model_id="tiny", window=512, suggest=lambda need: None)
    assert got.attachments[0].status == LEFT_OUT
    assert any("No known model has a window for all of it" in n for n in got.notices)


def test_unreadable_files_are_named_once():
    binary = Attachment("logo.png", Path("/p/logo.png"), "0" * 64, 80, 0, "", LEFT_OUT, "it is a binary file")
    ctx = ProjectContext(Path("/p"), (binary,), notices=("logo.png is not attached: it is a binary file.",))
    got = fit(ctx, budget=1000)
    assert got.notices == ["logo.png is not attached: it is a binary file."]
    assert got.block == ""


def test_a_folder_too_big_for_the_window_is_shown_by_its_repo_map(tmp_path):
    files = []
    for i in range(30):
        text = (
            f"class Thing{i}:\n    def method_{i}(self, x: int) -> int:\n        return x\n" + "# pad\n" * 60
        )
        (tmp_path / f"mod{i}.py").write_text(text)
        files.append(_att(f"mod{i}.py", text, "dir", tmp_path))
    ctx = ProjectContext(tmp_path, tuple(files), map_tokens=300, cache_dir=tmp_path / "cache")
    got = fit(ctx, budget=900, model_id="tiny", window=2048, task="fix mod7.py")
    status = [a.status for a in got.attachments]
    assert MAP in status and INCLUDED in status
    assert "Repository map" in got.block and "class Thing7:" in got.block
    assert got.map_tokens <= 300 and got.tokens <= 900 + 40
    assert any("shown only as outlines in the" in n for n in got.notices)
    # The file the task names is attached whole first.
    assert next(a for a in got.attachments if a.rel_path == "mod7.py").status == INCLUDED


def test_a_small_file_after_one_that_does_not_fit_still_goes_in_whole():
    huge = _att("huge.py", "q = 1\n" * 3000)
    small = _att("small.py", "a = 1\n")
    budget = BLOCK_OVERHEAD + 60  # too little to be worth trimming huge.py into
    got = fit(ProjectContext(Path("/p"), (huge, small)), budget=budget, model_id="tiny", window=512)
    assert [a.status for a in got.attachments] == [LEFT_OUT, INCLUDED]
    assert "File: small.py" in got.block
