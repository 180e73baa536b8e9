"""[lifecycle] in the config: per-model keep_alive reaches the Ollama host it names, as Ollama reads it;
pins reach the lifecycle; a bad entry is one sentence."""

from __future__ import annotations

import pytest

from jarvis.app.compose import build_guard, build_lifecycle, build_providers, build_registry
from jarvis.app.config import ConfigError, parse_config
from jarvis.providers.ollama import keep_alive_value

CONFIG = """
[ollama]
keep_alive = "10m"
hosts = [{ name = "ollama", url = "http://127.0.0.1:9" }, { name = "gpubox", url = "http://127.0.0.1:8" }]
[lmstudio]
enabled = false
[embedded]
enabled = false
[lifecycle]
pinned = ["ollama/qwen2.5-coder:7b"]
keep_alive = { "ollama/qwen2.5-coder:7b" = "-1", "gpubox/llama3.2:3b" = "1h" }
"""


def test_keep_alive_per_model_and_host():
    config = parse_config(CONFIG, "test")
    local, gpubox = build_providers(config, build_guard(config), env={})
    assert local.keep_alive_for("qwen2.5-coder:7b") == -1  # a number: "-1" as a string is no Go duration
    assert local.keep_alive_for("llama3.2:3b") == "10m"  # the host's default
    assert gpubox.keep_alive_for("llama3.2:3b") == "1h"
    assert gpubox.keep_alive_for("qwen2.5-coder:7b") == "10m"
    lifecycle = build_lifecycle(config, build_registry(config, env={}))
    assert lifecycle.pinned == {"ollama/qwen2.5-coder:7b"}


def test_keep_alive_values_as_ollama_reads_them():
    assert [keep_alive_value(v) for v in ("300", "-1", "0", "1.5", "5m", "", None, 0)] == [
        300,
        -1,
        0,
        1.5,
        "5m",
        None,
        None,
        0,
    ]


def test_a_bad_lifecycle_entry_is_one_sentence():
    with pytest.raises(ConfigError, match="lifecycle"):
        parse_config("[lifecycle]\npinned = 3\n", "config.toml")
