"""Lifecycle tests pull, copy, load and delete models: each module gets its own Ollama test server,
so what they leave behind (a model cut mid-pull, one still loaded) is not seen by other tests,
which share the session's server."""

from __future__ import annotations

import pytest

from tests.conftest import run_server


@pytest.fixture(scope="module")
def ollama_url(model_path):
    with run_server("tests.servers.ollama_server", "/", "--model", str(model_path)) as url:
        yield url
