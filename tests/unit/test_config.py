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
    config = load_config(
        write(
            tmp_path,
            """
[ollama]
num_ctx = 8192
hosts = [{name = "ollama", url = "http://127.0.0.1:11434"}, {name = "gpubox", url = "http://10.0.0.5:11434"}]

[[openai_endpoints]]
name = "vllm"
url = "http://127.0.0.1:8000"
""",
        )
    )
    assert config.ollama.num_ctx == 8192
    assert [h.name for h in config.ollama.hosts] == ["ollama", "gpubox"]
    assert config.openai_endpoints[0].name == "vllm"


def test_toml_syntax_error_names_line(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "[ollama]\nnum_ctx = = 3\n"))
    assert "not valid TOML" in str(err.value) and "line 2" in str(err.value)


def test_wrong_type_names_key_and_line(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, '[lmstudio]\nenabled = true\n\n[ollama]\n\nnum_ctx = "big"\n'))
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
    # every file under the user's directories is named by Paths, config beside config, data beside data
    assert str(p.policies_file) == "/h/.config/jarvis/policies.toml"
    assert str(p.user_chains) == "/h/.config/jarvis/chains"
    assert str(p.tui_settings) == "/h/.local/share/jarvis/tui.json"
    assert str(p.model_details) == "/h/.local/share/jarvis/model-details.json"


def test_secrets_are_not_in_repr(tmp_path):
    config = load_config(write(tmp_path, '[cloud]\napi_keys = {openai = "sk-abcdefghijkl"}\n'))
    assert "sk-abcdefghijkl" not in repr(config)


def test_a_dotted_model_name_says_to_quote_it(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(
            write(tmp_path, '[embedded]\nn_ctx = 4096\n\n[embedded.models]\nqwen-coder-1.5b = "q.gguf"\n')
        )
    message = str(err.value)
    assert "'embedded.models.qwen-coder-1' (line 5)" in message
    assert 'quote model names that contain dots: "qwen-coder-1.5b" = ' in message
    quoted = load_config(write(tmp_path, '[embedded.models]\n"qwen-coder-1.5b" = "q.gguf"\n'))
    assert quoted.embedded.models == {"qwen-coder-1.5b": "q.gguf"}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        # a required key missing from the second table of an array: the line of that table's header
        (
            '[[openai_endpoints]]\nname = "a"\nurl = "http://127.0.0.1:1"\n\n'
            '[[openai_endpoints]]\nname = "b"\n',
            "'openai_endpoints[1].url' (line 5): Field required",
        ),
        # a value inside an inline table: the line of the key holding it
        (
            '[ollama]\nenabled = true\nhosts = [{name = "a", url = "u", port = 3}]\n',
            "'ollama.hosts[0].port' (line 3): unknown key",
        ),
        # an element of a multi-line array: the line that element starts on
        (
            '[ollama]\nhosts = [\n  {name = "a", url = "u"},  # first, ]\n  {name = "b", port = 3},\n]\n',
            "'ollama.hosts[1].port' (line 4): unknown key",
        ),
        (
            "[cloud]\nmodels = [\n  \"a\",\n  'b',\n  3,\n]\n",
            "'cloud.models[2]' (line 5): Input should be a valid string",
        ),
        # a table where a value belongs
        ("# comment\n\nollama = 3\n", "'ollama' (line 3): Input should be a valid dictionary"),
        # a bound
        (
            "[resources]\n\nreserve_gib = -1\n",
            "'resources.reserve_gib' (line 3): Input should be greater than",
        ),
        # a multi-line string does not hide the lines after it
        (
            '[cloud]\napi_base = """\n[discovery]\ntimeout = 1\n"""\ntimeout = "x"\n',
            "'cloud.timeout' (line 6)",
        ),
        # duplicate keys are a syntax error in TOML
        ("[ollama]\nenabled = true\nenabled = false\n", "line 3 is not valid TOML"),
    ],
)
def test_every_kind_of_error_names_its_line(tmp_path, text, says):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert says in str(err.value)
    assert str(tmp_path / "config.toml") in str(err.value)
