"""The `jarvis` command as a user runs it: real subprocesses, real config files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import dead_url

pytestmark = pytest.mark.slow  # every test runs the jarvis command in a subprocess


def jarvis(*args: str, home=None, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ}
    if home is not None:
        env["JARVIS_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "jarvis.app.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def test_version():
    out = jarvis("--version")
    assert out.returncode == 0 and out.stdout.startswith("jarvis ")


def write_config(home, text: str) -> None:
    (home / "config.toml").write_text(text)


def test_models_json_with_only_the_embedded_model(isolated_home):
    ollama, lmstudio = dead_url(), dead_url()
    write_config(
        isolated_home,
        f'[ollama]\nhosts = [{{name = "ollama", url = "{ollama}"}}]\n[lmstudio]\nurl = "{lmstudio}"\n',
    )
    out = jarvis("models", "--json", home=isolated_home)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    [model] = doc["models"]
    assert model["id"] == "embedded/smollm2-135m"
    for key in ("provider", "name", "context_length", "size_bytes", "capabilities", "fits_memory", "status"):
        assert key in model
    assert model["fits_memory"] is True and model["status"] == "available"
    down = {u["provider"]: u for u in doc["unreachable"]}
    assert down["ollama"]["address"].endswith(ollama.rsplit(":", 1)[1])
    assert "Could not connect" in down["lmstudio"]["reason"]


def test_models_table_with_servers(isolated_home, ollama_url, openai_url):
    write_config(
        isolated_home,
        f'[ollama]\nhosts = [{{name = "ollama", url = "{ollama_url}"}}]\n[lmstudio]\nurl = "{openai_url}"\n',
    )
    out = jarvis("models", "--refresh", home=isolated_home)
    assert out.returncode == 0, out.stderr
    assert "ollama/smollm2:135m" in out.stdout and "lmstudio/smollm2-135m-instruct" in out.stdout
    assert "ollama/bigcoder:70b" in out.stdout
    assert "Not reachable" not in out.stdout


def test_broken_config_is_one_sentence_and_exit_3(isolated_home):
    write_config(isolated_home, "[ollama]\nnum_ctx = 'lots'\n")
    out = jarvis("models", home=isolated_home)
    assert out.returncode == 3
    assert "'ollama.num_ctx' (line 2)" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_bad_gguf_path_in_config_is_a_notice(isolated_home, tmp_path):
    write_config(
        isolated_home,
        f"[ollama]\nenabled = false\n[lmstudio]\nenabled = false\n"
        f'[embedded.models]\nmine = "{tmp_path}/missing.gguf"\n',
    )
    out = jarvis("models", home=isolated_home)
    assert out.returncode == 0
    assert "embedded/smollm2-135m" in out.stdout
    assert "missing.gguf, which does not exist" in out.stdout


def test_usage_error_exit_code():
    out = jarvis("models", "--bogus")
    assert out.returncode == 2 and "unrecognized arguments" in out.stderr


def test_model_details_are_cached_between_runs_and_refresh_rereads(isolated_home, ollama_url, proxy_for_sync):
    proxy = proxy_for_sync(ollama_url)
    write_config(
        isolated_home,
        f'[ollama]\nhosts = [{{name = "ollama", url = "{proxy.url}"}}]\n[lmstudio]\nenabled = false\n',
    )
    listed = jarvis("models", "--json", home=isolated_home)
    assert listed.returncode == 0
    # One /api/show per model; the session's Ollama test server may hold models other tests pulled.
    ollama_models = [m for m in json.loads(listed.stdout)["models"] if m["id"].startswith("ollama/")]
    first = proxy.paths[:]
    assert len(ollama_models) >= 2 and first.count("/api/show") == len(ollama_models)
    assert (isolated_home / "model-details.json").exists()
    proxy.paths.clear()
    doc = json.loads(jarvis("models", "--json", home=isolated_home).stdout)
    assert "/api/show" not in proxy.paths, "cached details are reused while the digest is unchanged"
    assert {m["id"]: m["context_length"] for m in doc["models"]}["ollama/smollm2:135m"] == 8192
    proxy.paths.clear()
    jarvis("models", "--refresh", home=isolated_home)
    assert proxy.paths.count("/api/show") == len(ollama_models)


def test_every_command_registers_its_handler_and_the_parser_loads_no_engine():
    code = (
        "import sys; from jarvis.app.cli import build_parser; p = build_parser(); "
        "sub = next(a for a in p._actions if a.dest == 'command'); "
        "print(sorted(n for n, s in sub.choices.items() if not callable(s.get_default('handler')))); "
        "heavy = ('jarvis.chains', 'jarvis.providers', 'rich', 'asyncio', 'dataclasses'); "
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    without_handler, engine_modules = out.stdout.splitlines()
    assert without_handler == "[]" and engine_modules == "[]", out.stderr


def test_helpers_return_exit_codes_instead_of_exiting(isolated_home, monkeypatch, capsys):
    from jarvis.app.cli import main

    monkeypatch.setenv("JARVIS_HOME", str(isolated_home))
    assert main(["stats", "--since", "last tuesday"]) == 2
    assert "--since takes YYYY-MM-DD or a number of days" in capsys.readouterr().err


def test_a_reader_that_leaves_early_is_not_a_traceback(isolated_home):
    # `jarvis analyze ... | head -0`: the pipe's reading end is closed before anything is written.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "jarvis.app.cli", "analyze", "Write a Python function"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env={**os.environ, "JARVIS_HOME": str(isolated_home)},
        )
    finally:
        os.close(write_end)
    assert out.returncode == 0 and out.stderr == ""
