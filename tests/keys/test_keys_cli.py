"""`jarvis keys` as a user runs it: add from standard input, list (text and --json), test against the
loopback endpoint (ok / rejected / unreachable), remove; env and config keys shown with their source."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import dead_url

pytestmark = pytest.mark.slow  # every test runs the jarvis command in a subprocess

KEY_A = "sk-test-AAAAAAAAAAAAAAAAAAAAfirst"
KEY_B = "sk-test-BBBBBBBBBBBBBBBBBBBsecond"


def jarvis(*args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jarvis.app.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def config(home, api_base: str, extra: str = "") -> None:
    (home / "config.toml").write_text(
        "[ollama]\nenabled = false\n[lmstudio]\nenabled = false\n[embedded]\nenabled = false\n"
        f'[cloud]\nenabled = true\nmodels = ["openai/gpt-4o-mini"]\napi_base = "{api_base}"\n{extra}'
    )


def test_add_list_test_remove(cloud_server, key_env):
    config(key_env, cloud_server.url)
    added = jarvis("keys", "add", "openai", "--name", "first", stdin=KEY_A + "\n")
    assert added.returncode == 0, added.stderr
    assert "Stored openai key 'first' (…irst) in the encrypted file" in added.stdout
    doc = json.loads(jarvis("keys", "add", "openai", "--json", stdin=KEY_B).stdout)
    assert doc["added"]["name"] == "default" and doc["added"]["store"] == "file"

    cloud_server.keys = {KEY_A: "ok"}  # the second is unknown to the server: rejected
    tested = jarvis("keys", "test", "openai", "--json")
    assert tested.returncode == 1, tested.stderr
    results = {r["name"]: r["status"] for r in json.loads(tested.stdout)["results"]}
    assert results == {"first": "ok", "default": "rejected"}
    assert jarvis("keys", "test", "openai", "--name", "first").returncode == 0

    listed = json.loads(jarvis("keys", "list", "--json").stdout)
    rows = {r["name"]: r for r in listed["keys"]}
    assert list(rows) == ["first", "default"] and listed["store"] == "file"
    assert rows["first"]["last4"] == "irst" and rows["first"]["source"] == "file"
    assert rows["first"]["status"] == "ok" and rows["first"]["requests"] == 2
    assert rows["default"]["status"] == "rejected" and rows["default"]["last_used"] > 0
    text = jarvis("keys", "list").stdout
    assert "first" in text and "…irst" in text and "rejected" in text

    removed = jarvis("keys", "remove", "openai", "default")
    assert removed.returncode == 0 and "Removed openai key 'default'" in removed.stdout
    gone = jarvis("keys", "remove", "openai", "default")
    assert gone.returncode != 0 and "No stored key named 'default'" in gone.stderr
    assert [r["name"] for r in json.loads(jarvis("keys", "list", "--json").stdout)["keys"]] == ["first"]


def test_unreachable_and_locked_are_sentences(key_env):
    config(key_env, dead_url() + "/v1")
    assert jarvis("keys", "add", "openai", stdin=KEY_A).returncode == 0
    out = jarvis("keys", "test", "openai")
    assert out.returncode == 1 and "openai/default (file): unreachable" in out.stdout
    locked = jarvis("keys", "test", "openai", env={"JARVIS_KEYS_PASSPHRASE": "not it"})
    assert locked.returncode == 3 and "passphrase does not open" in locked.stderr
    assert "Traceback" not in locked.stderr
    empty = jarvis("keys", "add", "openai", "--name", "blank", stdin="\n")
    assert empty.returncode == 3 and "The key is empty" in empty.stderr


def test_env_and_config_keys_are_listed_with_their_source(key_env):
    config(key_env, dead_url() + "/v1", '[cloud.api_keys]\nopenai = "sk-cfg-CCCCCCCCCCCCCCCC"\n')
    doc = json.loads(jarvis("keys", "list", "--json", env={"OPENAI_API_KEY": KEY_B}).stdout)
    assert [(r["name"], r["source"], r["last4"]) for r in doc["keys"]] == [
        ("env", "env", "cond"),
        ("config", "config", "CCCC"),
    ]
    [warning] = doc["warnings"]
    assert "plain text" in warning and "jarvis keys add openai" in warning
    plain = jarvis("keys", "list")
    assert "jarvis keys add openai" in plain.stderr
    refused = jarvis("keys", "remove", "openai", "env")
    assert refused.returncode == 2 and "OPENAI_API_KEY" in refused.stderr


def test_remove_takes_name_as_add_does_and_a_misspelt_provider_is_pointed_out(key_env):
    config(key_env, dead_url() + "/v1")
    typo = jarvis("keys", "add", "opeanai", "--name", "work", stdin=KEY_A)
    assert typo.returncode == 0 and "no [cloud] model starts with 'opeanai/'" in typo.stderr
    assert "check its spelling" not in jarvis("keys", "add", "openai", "--name", "w", stdin=KEY_B).stderr
    nameless = jarvis("keys", "remove", "opeanai")
    assert nameless.returncode == 2 and "say which opeanai key" in nameless.stderr
    removed = jarvis("keys", "remove", "opeanai", "--name", "work")
    assert removed.returncode == 0 and "Removed opeanai key 'work'" in removed.stdout


def test_an_unknown_keys_backend_is_a_sentence_in_list_too(key_env):
    config(key_env, dead_url() + "/v1")
    listed = jarvis("keys", "list", env={"JARVIS_KEYS_BACKEND": "bogus"})
    assert listed.returncode == 3 and "JARVIS_KEYS_BACKEND=bogus is not one of" in listed.stderr
