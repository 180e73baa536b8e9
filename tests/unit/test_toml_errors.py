"""Chain and policy files that do not load say which file, which line and what is wrong."""

from __future__ import annotations

import pytest

from jarvis.chains.policies import PolicyError, load_policies
from jarvis.chains.specs import ChainError, ChainLibrary, parse_chain
from jarvis.chains.toml_errors import KeyLines

CHAIN = '''name = "mine"
max_rounds = 1

[[roles]]
name = "architect"
prompt = """
[[roles]]
name = 3
"""

[roles.select]
capability = "code"

[[roles]]
name = "critic"
kind = "review"
prompt = "Review {code}"
'''


def test_key_lines_follow_arrays_of_tables_sub_tables_and_multiline_strings():
    lines = KeyLines.scan(CHAIN)
    assert lines.line_of(("roles", 0)) == 4
    assert lines.line_of(("roles", 0, "prompt")) == 6
    assert lines.line_of(("roles", 0, "select", "capability")) == 12
    assert lines.line_of(("roles", 1, "kind")) == 16
    assert lines.line_of(("roles", 1, "missing_key")) == 14  # falls back to the table that lacks it
    assert lines.line_of(("nowhere",)) is None


def test_a_role_with_a_wrong_type_names_the_line():
    with pytest.raises(ChainError) as err:
        parse_chain(CHAIN.replace('name = "critic"', "name = 3"), "chains/mine.toml")
    assert "chains/mine.toml" in str(err.value)
    assert "'roles[1].name' (line 15): Input should be a valid string" in str(err.value)


def test_a_chain_syntax_error_names_the_line():
    with pytest.raises(ChainError) as err:
        parse_chain('name = "x"\n[[roles]]\nname = \n', "chains/x.toml")
    assert "chains/x.toml line 3 is not valid TOML" in str(err.value)


def test_asking_for_a_broken_user_chain_says_what_is_wrong_with_its_file(tmp_path):
    (tmp_path / "x.toml").write_text('name = "x"\n\n[[roles]]\nname = 3\n')
    (tmp_path / "renamed.toml").write_text('name = "other"\n[[roles]]\nname = "a"\nkindd = "review"\n')
    lib = ChainLibrary.load(tmp_path)
    with pytest.raises(ChainError) as err:
        lib.get("x")
    message = str(err.value)
    assert "no chain named" not in message
    assert f"{tmp_path / 'x.toml'}" in message and "'roles[0].name' (line 4)" in message
    with pytest.raises(ChainError) as err:
        lib.get("other")  # known by the name inside the file too
    assert "'roles[0].kindd' (line 4): unknown key" in str(err.value)
    with pytest.raises(ChainError) as err:
        lib.get("nope")
    assert "There is no chain named 'nope'" in str(err.value)
    assert len(lib.problems) == 2


def test_a_broken_policies_file_names_the_line(tmp_path):
    path = tmp_path / "policies.toml"
    path.write_text('[[policies]]\nname = "a"\n\n[[policies]]\nname = "b"\nstrategy = "fastest"\n')
    with pytest.raises(PolicyError) as err:
        load_policies(path)
    assert str(path) in str(err.value) and "'policies[1].strategy' (line 6)" in str(err.value)
    path.write_text('[[policies]]\nname = "a"\nprefer = ["x"\n')
    with pytest.raises(PolicyError) as err:
        load_policies(path)
    assert "line 3 is not valid TOML: Unclosed array (it is never closed)" in str(err.value)


def test_files_that_are_not_utf8_name_the_line(tmp_path):
    from jarvis.app.config import ConfigError, load_config

    latin1 = "# Réglages\n[ollama]\nnum_ctx = 8192\n".encode("latin-1")
    (tmp_path / "config.toml").write_bytes(latin1)
    with pytest.raises(ConfigError, match=r"config.toml line 1 is not UTF-8 text \(byte 0xe9\)"):
        load_config(tmp_path / "config.toml")
    (tmp_path / "policies.toml").write_bytes(b'[[policies]]\nname = "caf\xe9"\n')
    with pytest.raises(PolicyError, match=r"policies.toml line 2 is not UTF-8 text"):
        load_policies(tmp_path / "policies.toml")
    chains = tmp_path / "chains"
    chains.mkdir()
    (chains / "fr.toml").write_bytes(b'name = "fr"\n[[roles]]\nname = "a"\nprompt = "R\xe9sume {task}"\n')
    with pytest.raises(ChainError, match=r"fr.toml line 4 is not UTF-8 text"):
        ChainLibrary.load(chains).get("fr")


def test_an_error_about_the_whole_file_is_its_message_alone():
    from pydantic import BaseModel, ValidationError, model_validator

    from jarvis.chains.toml_errors import validation_problems

    class Pair(BaseModel):
        a: int = 0
        b: int = 0

        @model_validator(mode="after")
        def _differ(self):
            if self.a == self.b:
                raise ValueError("a and b must differ")
            return self

    with pytest.raises(ValidationError) as err:
        Pair.model_validate({"a": 1, "b": 1})
    assert validation_problems("a = 1\nb = 1\n", err.value) == ["Value error, a and b must differ"]
