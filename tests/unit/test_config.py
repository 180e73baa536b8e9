"""Config loading: defaults, and a broken file gets one sentence naming the key and the line."""

from __future__ import annotations

import pytest

from jarvis.app.config import Config, ConfigError, load_config, ollama_hosts
from jarvis.app.paths import resolve_paths


def write(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_missing_file_means_defaults(tmp_path):
    config = load_config(tmp_path / "none.toml")
    assert config == Config()
    assert config.cloud.enabled is False


def test_valid_file(tmp_path):
    config = load_config(write(tmp_path, """
[ollama]
num_ctx = 8192
hosts = [{name = "ollama", url = "http://127.0.0.1:11434"}, {name = "gpubox", url = "http://10.0.0.5:11434"}]

[[openai_endpoints]]
name = "vllm"
url = "http://127.0.0.1:8000"
"""))
    assert config.ollama.num_ctx == 8192
    assert [h.name for h in config.ollama.hosts] == ["ollama", "gpubox"]
    assert config.openai_endpoints[0].name == "vllm"


def test_toml_syntax_error_names_line(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "[ollama]\nnum_ctx = = 3\n"))
    assert "not valid TOML" in str(err.value) and "line 2" in str(err.value)


def test_wrong_type_names_key_and_line(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "[lmstudio]\nenabled = true\n\n[ollama]\n\nnum_ctx = \"big\"\n"))
    assert "'ollama.num_ctx' (line 6)" in str(err.value)


def test_unknown_key_is_named(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "[embedded]\nn_ctxx = 4096\n"))
    assert "'embedded.n_ctxx' (line 2): unknown key" in str(err.value)


def test_ollama_host_env_is_the_default_host():
    config = Config()
    assert ollama_hosts(config.ollama, {"OLLAMA_HOST": "http://box:11434"})[0].url == "http://box:11434"
    assert ollama_hosts(config.ollama, {})[0].url == "http://127.0.0.1:11434"


def test_paths_follow_jarvis_home_then_xdg(tmp_path):
    assert resolve_paths({"JARVIS_HOME": str(tmp_path)}).database == tmp_path / "jarvis.db"
    p = resolve_paths({"HOME": "/h", "XDG_CONFIG_HOME": "/c", "XDG_DATA_HOME": "/d"})
    assert str(p.config_file) == "/c/jarvis/config.toml" and str(p.database) == "/d/jarvis/jarvis.db"
    p = resolve_paths({"HOME": "/h"})
    assert str(p.config_file) == "/h/.config/jarvis/config.toml"


def test_secrets_are_not_in_repr(tmp_path):
    config = load_config(write(tmp_path, '[cloud]\napi_keys = {openai = "sk-abcdefghijkl"}\n'))
    assert "sk-abcdefghijkl" not in repr(config)
