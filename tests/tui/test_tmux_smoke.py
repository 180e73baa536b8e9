"""The real `jarvis` binary in a real terminal (tmux): it starts, runs a task, and quits cleanly."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def screen(session: str) -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-t", session, "-p"], capture_output=True, text=True
    ).stdout


def wait_for(session: str, needle: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = screen(session)
        if needle in text:
            return text
        time.sleep(0.2)
    raise AssertionError(f"'{needle}' never appeared; the screen was:\n{screen(session)}")


def test_jarvis_starts_runs_a_task_and_quits(isolated_home, tmp_path):
    (isolated_home / "config.toml").write_text("[ollama]\nenabled = false\n[lmstudio]\nenabled = false\n")
    jarvis = Path(sys.executable).parent / "jarvis"
    exit_file = tmp_path / "exit-code"
    session = f"jarvis-{uuid.uuid4().hex[:8]}"
    command = f"JARVIS_HOME={isolated_home} {jarvis}; echo $? > {exit_file}"
    # With no client attached, tmux may keep its default 80x24: the small terminal the issue asks for.
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", command], check=True)
    try:
        wait_for(session, "Run F2", 30)
        task = "Write a Python function that reverses a string."
        subprocess.run(["tmux", "send-keys", "-t", session, "-l", task], check=True)
        # The keys may come before discovery ends.
        subprocess.run(["tmux", "send-keys", "-t", session, "C-r"], check=True)
        text = wait_for(session, "Finished in", 240)  # a shared machine can be slow
        assert "Rate this run" in text and "cost $0.0000" in text  # local models are free
        # The status line says discovery ended; a toast ("Still looking for models…") may cover it for
        # a few seconds after a run started early, so it is read once the toasts are gone.
        wait_for(session, "model(s) ready", 90)  # on a loaded machine the toast's timer fires late
        subprocess.run(["tmux", "send-keys", "-t", session, "C-q"], check=True)
        deadline = time.monotonic() + 20
        while not exit_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert exit_file.read_text().strip() == "0", "jarvis exited cleanly"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
