"""Key-manager fixtures: the loopback cloud endpoint, and keys kept in the encrypted file (never a real
OS keyring, whatever machine runs the tests)."""

from __future__ import annotations

import pytest

from tests.keys.cloud_server import CloudServer

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def cloud_server():
    server = CloudServer().start()
    yield server
    server.stop()


@pytest.fixture
def key_env(isolated_home, monkeypatch):
    """The isolated home, with keys going to the encrypted file under it and its passphrase set."""
    monkeypatch.setenv("JARVIS_KEYS_BACKEND", "file")
    monkeypatch.setenv("JARVIS_KEYS_PASSPHRASE", PASSPHRASE)
    return isolated_home
