"""Every TOML example in the README loads: a newcomer copies them first.

Validation only: the config example names LAN addresses (10.0.0.5), and nothing here dials them.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from jarvis.app.config import parse_config
from jarvis.chains.specs import parse_chain

README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLES = re.findall(r"^```toml\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.M | re.S)


def test_the_readme_has_a_config_and_a_chain_example():
    kinds = ["chain" if "roles" in tomllib.loads(text) else "config" for text in EXAMPLES]
    assert {"chain", "config"} <= set(kinds)


@pytest.mark.parametrize("text", EXAMPLES, ids=lambda text: text.split("\n", 1)[0])
def test_readme_toml_example_loads(text):
    if "roles" in tomllib.loads(text):
        spec = parse_chain(text, "the README's chain example")
        assert spec.roles
    else:
        config = parse_config(text, "the README's config example")
        assert config.embedded.models, "the example shows how to add a GGUF file"
