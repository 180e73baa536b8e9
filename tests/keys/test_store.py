"""The key store on a machine without an OS keyring: the encrypted file round-trips, never holds the
key in clear, needs its passphrase; the index has names and last characters only."""

from __future__ import annotations

import pytest

from jarvis.providers.keys.sources import KeySources
from jarvis.providers.keys.store import KeyStore, KeyStoreError

KEY_A = "sk-test-AAAAAAAAAAAAAAAAAAAAfirst"
KEY_B = "sk-ant-BBBBBBBBBBBBBBBBBBBBsecond"


def store(tmp_path, passphrase: str | None = "pass phrase", clock=lambda: 1700000000.0) -> KeyStore:
    # time_cost 1: the same Argon2 + AES-GCM file, faster to derive (a test opens it several times).
    return KeyStore(
        tmp_path / "keys.json",
        tmp_path / "keys.cfg",
        passphrase=lambda: passphrase,
        backend="file",
        time_cost=1,
        clock=clock,
    )


def test_encrypted_file_round_trip(tmp_path):
    s = store(tmp_path)
    a = s.add("openai", "work", KEY_A)
    s.add("openai", s.next_name("openai"), KEY_B)
    assert (a.provider, a.name, a.last4, a.store) == ("openai", "work", "irst", "file")
    assert [e.name for e in s.entries("openai")] == ["work", "default"]
    # A fresh process (a new store object) opens the file with the passphrase.
    again = store(tmp_path)
    assert [again.secret(e) for e in again.entries()] == [KEY_A, KEY_B]
    for path in (tmp_path / "keys.cfg", tmp_path / "keys.json"):
        raw = path.read_bytes()
        assert KEY_A.encode() not in raw and KEY_B.encode() not in raw
        assert b"AAAAAAAAAAAA" not in raw  # not even a long piece of it
        assert path.stat().st_mode & 0o077 == 0, f"{path.name} is readable by others"


def test_wrong_or_missing_passphrase_is_a_sentence(tmp_path):
    store(tmp_path).add("openai", "work", KEY_A)
    with pytest.raises(KeyStoreError, match="passphrase does not open .*keys.cfg"):
        store(tmp_path, "not it").secret(store(tmp_path, "not it").entries()[0])
    locked = store(tmp_path, None)
    assert [e.name for e in locked.entries()] == ["work"], "the index needs no passphrase"
    with pytest.raises(KeyStoreError, match="JARVIS_KEYS_PASSPHRASE"):
        locked.secret(locked.entries()[0])


def test_the_first_key_without_a_passphrase_asks_to_choose_one(tmp_path):
    # Nothing is encrypted yet: the sentence must not speak of stored keys and "its" passphrase.
    with pytest.raises(
        KeyStoreError, match="no OS keyring here.*JARVIS_KEYS_PASSPHRASE to the passphrase it"
    ):
        store(tmp_path, None).add("openai", "work", KEY_A)
    assert not (tmp_path / "keys.cfg").exists()


def test_remove_and_bad_names(tmp_path):
    s = store(tmp_path)
    s.add("openai", "work", KEY_A)
    assert s.remove("openai", "work").name == "work"
    assert s.entries() == [] and store(tmp_path).entries() == []
    with pytest.raises(KeyStoreError, match="No stored key named 'work'"):
        s.remove("openai", "work")
    with pytest.raises(KeyStoreError, match="cannot name a key"):
        s.add("openai", "env", KEY_A)
    with pytest.raises(KeyStoreError, match="not a provider prefix"):
        s.add("Open AI", "x", KEY_A)
    with pytest.raises(KeyStoreError, match="empty"):
        s.add("openai", "x", "  \n")


def test_sources_order_env_store_config_and_a_locked_store(tmp_path):
    s = store(tmp_path)
    s.add("openai", "work", KEY_B)
    sources = KeySources({"OPENAI_API_KEY": "sk-env-CCCCCCCCCCCCCC"}, {"openai": "sk-cfg-DDDDDDDDDDDD"}, s)
    keys = sources.load("openai")
    assert [(k.name, k.source) for k in keys] == [("env", "env"), ("work", "file"), ("config", "config")]
    assert KEY_B not in repr(keys), "a key's repr leaves the secret out"
    assert "jarvis keys add openai" in (sources.config_warning() or "")
    listing = sources.listing()
    assert [(r["name"], r["source"], r["last4"]) for r in listing] == [
        ("env", "env", "CCCC"),
        ("work", "file", "cond"),
        ("config", "config", "DDDD"),
    ]
    locked = KeySources({}, {}, store(tmp_path, None))
    assert locked.available("openai"), "names are known without the passphrase"
    assert locked.load("openai") == [] and "JARVIS_KEYS_PASSPHRASE" in locked.problem("openai")


async def test_plain_config_keys_are_a_notice_where_models_are_listed():
    from jarvis.providers.cloud import CloudProvider
    from jarvis.providers.registry import ModelRegistry

    secret = "sk-cfg-DDDDDDDDDDDDDDDDDDDD"
    registry = ModelRegistry([CloudProvider("cloud", ["openai/gpt-4o-mini"], api_keys={"openai": secret})])
    discovery = await registry.refresh()
    [notice] = discovery.notices
    assert "plain text" in notice and "jarvis keys add openai" in notice and secret not in notice
    [model] = discovery.models
    assert model.info.details["has_key"] is True
    bare = ModelRegistry([CloudProvider("cloud", ["openai/gpt-4o-mini"])])
    assert (await bare.refresh()).notices == []


def test_a_passphrase_typed_in_the_workbench_unlocks_the_file(tmp_path):
    store(tmp_path).add("openai", "work", KEY_A)
    locked = store(tmp_path, None)  # no JARVIS_KEYS_PASSPHRASE, no terminal
    assert locked.needs_passphrase
    locked.unlock("pass phrase")
    assert not locked.needs_passphrase
    assert locked.secret(locked.entries()[0]) == KEY_A
    locked.unlock("wrong")
    with pytest.raises(KeyStoreError, match="passphrase does not open"):
        locked.secret(locked.entries()[0])
