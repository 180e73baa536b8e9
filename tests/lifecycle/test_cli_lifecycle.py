"""`jarvis models pull|load|ps|unload|rm` as a user runs them, against the Ollama test server."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from jarvis.chains.ledger import Ledger
from tests.conftest import dead_url

pytestmark = pytest.mark.slow  # every test runs the jarvis command in a subprocess


def jarvis(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jarvis.app.cli", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


@pytest.fixture
def home(isolated_home, ollama_url):
    (isolated_home / "config.toml").write_text(
        f'[[ollama.hosts]]\nname = "ollama"\nurl = "{ollama_url}"\n'
        f'[lmstudio]\nurl = "{dead_url()}"\n[embedded]\nenabled = false\n'
    )
    return isolated_home


def listed(model_id: str) -> bool:
    doc = json.loads(jarvis("models", "--json").stdout)
    return model_id in [m["id"] for m in doc["models"]]


def loaded_ids() -> list[str]:
    return [m["id"] for m in json.loads(jarvis("models", "ps", "--json").stdout)["loaded"]]


def test_pull_load_ps_unload_rm(home, ollama_url):
    name = "fake-cli:1b-size4m-rate16m"
    mid = f"ollama/{name}"
    out = jarvis("models", "pull", name, "--json")
    assert out.returncode == 0, out.stderr
    # Progress on stderr with percent and bytes; the host named; the fit judged in numbers.
    assert f"Pulling {name} to ollama at {ollama_url}" in out.stderr
    assert "100.0 %" in out.stderr and "4.2 MB / 4.2 MB" in out.stderr
    assert "needs" in out.stderr and "free" in out.stderr
    doc = json.loads(out.stdout)
    assert doc["model"] == mid and doc["status"] == "success" and doc["host"] == ollama_url
    assert doc["fit"]["fits"] is True and doc["fit"]["needed_bytes"] > 4 * 1024 * 1024
    assert listed(mid)

    out = jarvis("models", "load", mid, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["host"] == f"ollama at {ollama_url}"
    ps = json.loads(jarvis("models", "ps", "--json").stdout)["loaded"]
    entry = next(m for m in ps if m["id"] == mid)
    assert entry["size_bytes"] > 4 * 1024 * 1024 and entry["context_length"] == 4096
    assert entry["expires_at"] and entry["host"] == ollama_url
    table = jarvis("models", "ps").stdout
    assert mid in table and "MEMORY" in table

    out = jarvis("models", "unload", mid)
    assert out.returncode == 0 and out.stdout.strip() == f"Unloaded {name} on ollama at {ollama_url}."
    assert mid not in loaded_ids()

    # Without --yes and without a terminal to ask on, nothing is deleted.
    out = jarvis("models", "rm", mid)
    assert out.returncode == 2 and "not deleted (add --yes" in out.stderr
    assert listed(mid)
    out = jarvis("models", "rm", mid, "--yes", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["action"] == "delete"
    assert not listed(mid)
    out = jarvis("models", "rm", mid, "--yes")
    assert out.returncode == 4 and out.stderr.count("\n") == 1 and "has no model called" in out.stderr


def test_pull_cut_midway_is_one_sentence_and_registers_nothing(home):
    name = "fake-cli:cut-size4m-rate16m-fail40"
    out = jarvis("models", "pull", name)
    assert out.returncode == 1
    error = [line for line in out.stderr.splitlines() if line.startswith("jarvis:")]
    assert len(error) == 1 and "stopped after" in error[0] and "Nothing was registered" in error[0]
    assert "Traceback" not in out.stderr
    assert not listed(f"ollama/{name}")


def test_pull_of_an_unknown_name_says_so(home):
    out = jarvis("models", "pull", "no-such-model:1b")
    assert out.returncode == 1 and "found no model called no-such-model:1b" in out.stderr


def test_ctrl_c_cancels_a_pull_cleanly(home):
    name = "fake-cli:slow-size256m-rate4m"  # a minute long: ctrl+c always lands mid-way
    proc = subprocess.Popen(
        [sys.executable, "-m", "jarvis.app.cli", "models", "pull", name],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        # A shell that starts the suite in the background (`./scripts/test &`) hands SIGINT down ignored,
        # and Python then leaves it ignored: give the child the default, as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # Wait for the first progress line with bytes before interrupting.
    seen = ""
    deadline = time.monotonic() + 30
    while not re.search(r"\d\.\d %", seen) and time.monotonic() < deadline:
        seen += proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, seen + err
    assert "was cancelled" in err and "Nothing was registered" in err and "Traceback" not in err
    assert not listed(f"ollama/{name}")


def test_rm_refuses_a_model_in_use_by_a_running_run(home, ollama_url):
    assert jarvis("models", "cp", "ollama/smollm2:135m", "busy:copy").returncode == 0
    ledger = Ledger(home / "data" / "jarvis.db") if (home / "data").exists() else None
    ledger = ledger or Ledger(_database(home))
    # A run of this (live) process with a step on the model, as `jarvis run` leaves it while it streams.
    ledger.start_run("run-busy", "chain", "task", None, None, None)
    ledger.start_step("step-busy", "run-busy", 0, "coder", 0, "ollama/busy:copy", "ollama", "test")
    ledger.close()
    out = jarvis("models", "rm", "ollama/busy:copy", "--yes")
    assert out.returncode == 1 and "in use by a running run (run-busy)" in out.stderr
    assert listed("ollama/busy:copy")
    assert jarvis("models", "rm", "ollama/busy:copy", "--yes").returncode == 1
    ledger = Ledger(_database(home))
    ledger.finish_run("run-busy", "completed")
    ledger.close()
    assert jarvis("models", "rm", "ollama/busy:copy", "--yes").returncode == 0


def _database(home) -> str:
    out = subprocess.run(
        [sys.executable, "-c", "from jarvis.app.paths import resolve_paths; print(resolve_paths().database)"],
        capture_output=True,
        text=True,
        env={**os.environ, "JARVIS_HOME": str(home)},
    )
    return out.stdout.strip()


def test_lmstudio_without_load_endpoint_says_so_and_shows_the_lms_command(isolated_home, openai_url):
    (isolated_home / "config.toml").write_text(
        f'[lmstudio]\nurl = "{openai_url}"\n[ollama]\nenabled = false\n[embedded]\nenabled = false\n'
    )
    out = jarvis("models", "load", "lmstudio/smollm2-135m-instruct", "--yes")
    assert out.returncode == 1
    assert "does not offer loading through its REST API" in out.stderr
    assert "lms load smollm2-135m-instruct" in out.stderr
    out = jarvis("models", "unload", "lmstudio/smollm2-135m-instruct")
    assert out.returncode == 1 and "lms unload smollm2-135m-instruct" in out.stderr
    ps = json.loads(jarvis("models", "ps", "--json").stdout)["loaded"]
    assert [m["id"] for m in ps] == ["lmstudio/smollm2-135m-instruct"]
    assert ps[0]["context_length"] == 8192


def test_a_load_that_would_not_fit_asks_first_and_hosts_are_named(isolated_home, ollama_url):
    # Two hosts (the same server under two names): each action says which one it used.
    (isolated_home / "config.toml").write_text(
        f'[[ollama.hosts]]\nname = "ollama"\nurl = "{ollama_url}"\n'
        f'[[ollama.hosts]]\nname = "second"\nurl = "http://localhost:{ollama_url.rsplit(":", 1)[1]}"\n'
        f"[lmstudio]\nenabled = false\n[embedded]\nenabled = false\n"
        "[resources]\nreserve_gib = 100000\n"  # nothing fits
    )
    jarvis("models", "unload", "second/smollm2:135m")
    out = jarvis("models", "load", "second/smollm2:135m")
    assert out.returncode == 1
    assert "smollm2:135m needs" in out.stderr and "free" in out.stderr
    assert "was not loaded: it would not fit (add --yes to load it anyway)" in out.stderr
    out = jarvis("models", "load", "second/smollm2:135m", "--yes")
    assert out.returncode == 0 and "on second at http://localhost:" in out.stdout
    out = jarvis("models", "pull", "smollm2:135m", "--host", "second")
    assert out.returncode == 0 and "to second at http://localhost:" in out.stdout
    out = jarvis("models", "pull", "smollm2:135m", "--host", "nowhere")
    assert out.returncode == 4 and "No Ollama host is called 'nowhere'" in out.stderr
