"""Adding a GGUF file as an embedded model: the header read first, a line under [embedded.models]
(the user's file kept as it was), from the CLI and from the Models view's file picker."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from jarvis.app.config import load_config
from jarvis.app.gguf_register import GGUFRegistrationError, register_gguf, with_model
from jarvis.app.tui.gguf_picker import GGUFPicker
from jarvis.app.tui.models_view import ModelsView
from jarvis.providers import gguf
from tests.tui.helpers import make_app, ready, told_by, wait_until


def test_the_line_goes_under_an_existing_table_and_comments_survive(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('# mine\n[embedded.models]\na = "/x/a.gguf"\n\n[resources]\nreserve_gib = 2\n')
    register_gguf(config, "b", tmp_path / "b.gguf")
    text = config.read_text()
    assert text.startswith("# mine\n[embedded.models]\n")
    assert load_config(config).embedded.models == {"a": "/x/a.gguf", "b": str(tmp_path / "b.gguf")}
    assert load_config(config).resources.reserve_gib == 2
    with pytest.raises(GGUFRegistrationError, match="already in"):
        register_gguf(config, "b", tmp_path / "c.gguf")
    with pytest.raises(GGUFRegistrationError, match="cannot name a model"):
        register_gguf(config, "has space", tmp_path / "c.gguf")


def test_an_inline_models_table_is_refused_and_the_file_left_alone(tmp_path):
    config = tmp_path / "config.toml"
    before = '[embedded]\nmodels = { a = "/x/a.gguf" }\n'
    config.write_text(before)
    with pytest.raises(GGUFRegistrationError, match="inline"):
        register_gguf(config, "b", tmp_path / "b.gguf")
    assert config.read_text() == before
    assert with_model("", "m", tmp_path / "m.gguf").startswith("\n[embedded.models]\n")


@pytest.mark.slow
def test_cli_add_gguf_reads_the_header_first(isolated_home, model_path, tmp_path):
    def jarvis(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "jarvis.app.cli", *args], capture_output=True, text=True, timeout=60
        )

    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("hello")
    out = jarvis("models", "add-gguf", str(not_gguf))
    assert out.returncode == 2 and "is not a readable GGUF model file" in out.stderr
    assert not (isolated_home / "config.toml").exists()
    out = jarvis("models", "add-gguf", str(model_path), "--name", "tiny", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["model"] == "embedded/tiny" and doc["architecture"] == "llama"
    assert doc["quantization"] == "Q4_1" and doc["context_length"] == 8192
    listed = json.loads(jarvis("models", "--json").stdout)["models"]
    assert "embedded/tiny" in [m["id"] for m in listed]
    # Loading it from a command that then exits would do nothing: it says so and where to do it.
    out = jarvis("models", "load", "embedded/tiny")
    assert out.returncode == 2 and "workbench's Models view (l on the model)" in out.stderr


async def test_models_view_adds_a_gguf_file_after_reading_its_header(isolated_home, model_path):
    app = make_app(isolated_home)
    async with app.run_test(size=(160, 45)) as pilot:
        await ready(pilot, app)
        await pilot.press("f4")
        view = app.query_one(ModelsView)
        await wait_until(pilot, lambda: view.rows, 30, "the models table")
        view.query_one("#models-table").focus()
        await pilot.press("g")
        await wait_until(pilot, lambda: isinstance(app.screen, GGUFPicker), 10, "the file picker")
        picker = app.screen
        picker.query_one("#gguf-path").value = str(model_path)
        await wait_until(pilot, lambda: picker.path is not None, 10, "the header")
        header = str(picker.query_one("#gguf-header").render())
        assert "llama" in header and "Q4_1" in header and "8192-token context" in header
        picker.query_one("#gguf-name").value = "picked"
        await pilot.click("#gguf-add")
        await wait_until(pilot, lambda: any(r["model"] == "embedded/picked" for r in view.rows), 30, "row")
        assert any(t.startswith("Added embedded/picked") for t in told_by(app))
        assert load_config(isolated_home / "config.toml").embedded.models["picked"] == str(model_path)
        assert gguf.read_metadata(model_path)  # the file itself untouched and still readable
