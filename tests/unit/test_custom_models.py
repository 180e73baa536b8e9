"""Registering a custom model appends to the user's config file without breaking it."""

from __future__ import annotations

import pytest

from jarvis.app.config import load_config
from jarvis.app.custom_models import RegistrationError, parse_fields, register


def test_form_fields_parse_into_a_custom_model():
    model = parse_fields(
        {
            "id": " ollama/my-finetune:latest ",
            "capabilities": "code, Chat",
            "context_length": "16_384",
            "cost_in_per_1k": "$0.5",
            "cost_out_per_1k": "",
            "tags": "mine, q4",
            "description": 'Fine-tuned on our repo "core"',
        }
    )
    assert model.id == "ollama/my-finetune:latest"
    assert model.capabilities == ["code", "chat"] and model.context_length == 16384
    assert model.cost_in_per_1k == 0.5 and model.cost_out_per_1k is None and model.tags == ["mine", "q4"]


@pytest.mark.parametrize(
    "fields, sentence",
    [
        ({"id": "no-provider"}, "provider/name"),
        ({"id": "ollama/x", "capabilities": "code, telepathy"}, "Unknown capability telepathy"),
        ({"id": "ollama/x", "context_length": "big"}, "Context length must be a number"),
        ({"id": "ollama/x", "context_length": "-5"}, "context_length"),
        ({"id": "ollama/x", "cost_out_per_1k": "-1"}, "cost_out_per_1k"),
    ],
)
def test_bad_fields_get_a_sentence(fields, sentence):
    with pytest.raises(RegistrationError, match=sentence):
        parse_fields(fields)


def test_register_appends_and_keeps_the_users_file(tmp_path):
    path = tmp_path / "jarvis" / "config.toml"
    path.parent.mkdir()
    original = '# my settings\n[ollama]\nnum_ctx = 8192 # bigger\n\n[[custom_models]]\nid = "ollama/a"'
    path.write_text(original)
    register(
        path,
        parse_fields(
            {
                "id": "ollama/b",
                "capabilities": "code",
                "context_length": "4096",
                "description": 'quote " and ünïcode',
            }
        ),
    )
    text = path.read_text()
    assert text.startswith(original + "\n")  # nothing of the user's rewritten
    config = load_config(path)
    assert [c.id for c in config.custom_models] == ["ollama/a", "ollama/b"]
    assert config.custom_models[1].description == 'quote " and ünïcode' and config.ollama.num_ctx == 8192


def test_register_creates_the_file_when_there_is_none(tmp_path):
    path = tmp_path / "new" / "config.toml"
    register(path, parse_fields({"id": "lmstudio/qwen"}))
    assert [c.id for c in load_config(path).custom_models] == ["lmstudio/qwen"]


def test_register_refuses_a_duplicate_and_a_broken_file(tmp_path):
    path = tmp_path / "config.toml"
    register(path, parse_fields({"id": "ollama/a"}))
    with pytest.raises(RegistrationError, match="already registered"):
        register(path, parse_fields({"id": "ollama/a"}))
    path.write_text("[ollama\n")
    with pytest.raises(RegistrationError, match="not valid TOML"):
        register(path, parse_fields({"id": "ollama/b"}))
    assert path.read_text() == "[ollama\n"  # left as the user had it
    assert not list(tmp_path.glob(".config-*"))
