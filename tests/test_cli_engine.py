"""The engine's CLI as scripts use it: one stable JSON document per command, distinct exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.test_cli import jarvis, write_config

pytestmark = pytest.mark.slow  # every test runs the jarvis command in a subprocess

LOCAL_ONLY = "[ollama]\nenabled = false\n[lmstudio]\nenabled = false\n"


@pytest.fixture
def home(isolated_home):
    write_config(isolated_home, LOCAL_ONLY)
    return isolated_home


def run_json(home, *args) -> dict:
    out = jarvis(*args, "--json", home=home, timeout=180)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_run_json_document(home):
    doc = run_json(home, "run", "Write a Python function that reverses a string.", "--max-tokens", "80")
    assert doc["status"] == "completed" and doc["chain"] == "default" and doc["run_id"].startswith("run_")
    [step] = doc["steps"]
    assert step["role"] == "executor" and step["model"] == "embedded/smollm2-135m"
    assert step["provider"] == "embedded"
    assert step["status"] == "completed" and step["output"]
    assert step["usage"]["completion_tokens"] > 0 and step["timings"]["ttft_s"] > 0
    assert doc["result"]["answer"] == step["output"]
    assert isinstance(doc["result"]["code_blocks"], list)


def test_feedback_flow_rate_compare_vote_stats_history_export(home):
    run = run_json(home, "run", "Say hello.", "--max-tokens", "10")
    rated = run_json(home, "rate", run["run_id"], "5", "--comment", "nice")
    assert rated["rating"]["score"] == 5 and rated["rating"]["model_id"] == "embedded/smollm2-135m"
    step_id = run["steps"][0]["step_id"]
    assert run_json(home, "rate", step_id, "2")["rating"]["target_kind"] == "step"
    cmp = run_json(
        home,
        "compare",
        "Say hi.",
        "-m",
        "embedded/smollm2-135m",
        "-m",
        "embedded/smollm2-135m",
        "--max-tokens",
        "8",
    )
    assert cmp["status"] == "completed" and [a["label"] for a in cmp["answers"]] == ["A", "B"]
    assert cmp["parallel"] is False and "one after another" in cmp["reason"]
    vote = run_json(home, "vote", cmp["compare_id"], "tie")
    assert vote["pairs"] == [["embedded/smollm2-135m", "embedded/smollm2-135m", "tie"]]
    stats = run_json(home, "stats")
    assert {"performance", "leaderboard", "costs", "budgets", "cache"} <= set(stats)
    perf = {(r["model"], r["task_type"]) for r in stats["performance"]}
    assert ("embedded/smollm2-135m", "chat") in perf
    history = run_json(home, "history", "--search", "hello")
    assert [r["id"] for r in history["runs"]] == [run["run_id"]]
    md = jarvis("export", run["run_id"], "--format", "md", home=home)
    assert md.returncode == 0 and md.stdout.startswith(f"# Chain {run['run_id']}")
    assert "Rated 5/5" in md.stdout
    exported = json.loads(jarvis("export", run["run_id"], "--format", "json", home=home).stdout)
    assert exported["run_id"] == run["run_id"] and exported["ratings"]


def test_analyze_json_keys(home):
    doc = run_json(home, "analyze", "Fix this crash: KeyError: 'user' in app.py")
    assert set(doc) >= {"task_type", "language", "capabilities", "est_tokens", "confidence"}
    assert doc["task_type"] == "debugging" and doc["language"] == "python"


def test_policy_and_budget_round_trip(home):
    added = run_json(
        home,
        "policy",
        "add",
        "py",
        "--task-type",
        "code_generation",
        "--prefer",
        "embedded/smollm2-135m",
        "--priority",
        "3",
    )
    assert added["policies"][0]["name"] == "py"
    assert (home / "policies.toml").exists()
    doc = run_json(home, "run", "Write a Python function that adds numbers.", "--max-tokens", "20")
    assert "routing policy 'py'" in doc["steps"][0]["reason"]
    assert run_json(home, "policy", "remove", "py")["policies"] == []
    budget = run_json(home, "budget", "set", "monthly", "5")
    assert next(b for b in budget["budgets"] if b["period"] == "monthly")["limit_usd"] == 5


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("run", "hi", "--chain", "nope"), 2, "no chain named 'nope'"),
        (("run", "hi", "--model", "ollama/qwen:7b"), 4, "No model 'ollama/qwen:7b' is known"),
        (("rate", "run_nope", "3"), 2, "no run with id run_nope"),
        (("vote", "cmp_nope", "A"), 2, "no comparison with id cmp_nope"),
        (("compare", "hi", "-m", "embedded/smollm2-135m"), 2, "compare takes 2 to 4 models"),
        (("rate", "run_x", "9"), 2, "invalid choice"),
    ],
)
def test_errors_are_sentences_with_distinct_exit_codes(home, args, code, says):
    out = jarvis(*args, home=home)
    assert out.returncode == code, out.stderr
    assert says in out.stderr and "Traceback" not in out.stderr + out.stdout


def test_a_broken_user_chain_is_named_with_its_line(home):
    (home / "chains").mkdir()
    (home / "chains" / "x.toml").write_text('name = "x"\n\n[[roles]]\nname = 3\n')
    out = jarvis("run", "hi", "--chain", "x", home=home)
    assert out.returncode == 2, out.stderr
    assert "no chain named" not in out.stderr
    assert "x.toml has a problem: 'roles[0].name' (line 4): Input should be a valid string" in out.stderr


def test_stdin_that_is_not_utf8_is_refused_at_the_door_with_its_byte(home):
    env = {**os.environ, "JARVIS_HOME": str(home)}
    out = subprocess.run(
        [sys.executable, "-m", "jarvis.app.cli", "run", "-"],
        input="héllo".encode("latin-1"),
        capture_output=True,
        env=env,
        timeout=60,
    )
    stderr = out.stderr.decode()
    assert out.returncode == 2, stderr
    assert "The standard input is not UTF-8 text: byte 1 (0xe9)" in stderr and "Traceback" not in stderr
    assert not (home / "jarvis.db").exists(), "refused before the engine started"


def test_a_task_argument_that_is_not_utf8_is_refused(home):
    env = {**os.environ, "JARVIS_HOME": str(home)}
    out = subprocess.run(
        [sys.executable, "-m", "jarvis.app.cli", "run", b"ok \xff"], capture_output=True, env=env, timeout=60
    )
    assert out.returncode == 2 and "The task argument is not UTF-8 text: byte 3 (0xff)" in out.stderr.decode()


def test_a_correction_file_that_is_not_utf8_is_one_sentence(home, tmp_path):
    bad = tmp_path / "fix.py"
    bad.write_bytes(b"def f():\n    return '\x93'\n")
    out = jarvis("rate", "run_nope", "3", "--correction-file", str(bad), home=home)
    assert out.returncode == 2 and f"{bad} is not UTF-8 text: byte 21 (0x93)" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "args", [("run", "hi"), ("compare", "hi", "-m", "a/b", "-m", "c/d"), ("policy", "list")]
)
def test_a_broken_policies_file_is_a_config_error_with_its_line(home, args):
    (home / "policies.toml").write_text('[[policies]]\nname = "py"\nprefer = "not a list"\n')
    out = jarvis(*args, home=home)
    assert out.returncode == 3, out.stderr
    assert "policies.toml has a problem: 'policies[0].prefer' (line 3)" in out.stderr
    assert "Traceback" not in out.stderr


def test_stats_shows_cancels_in_their_own_column_not_as_failures(home):
    from jarvis.chains.ledger import Ledger

    ledger = Ledger(home / "jarvis.db")
    for status in ("ok", "cancelled", "cancelled"):
        ledger.record_request(
            {"model_id": "embedded/smollm2-135m", "status": status, "task_type": "chat", "latency_s": 1.0}
        )
    ledger.close()
    out = jarvis("stats", home=home)
    assert out.returncode == 0, out.stderr
    header, row = [line.split() for line in out.stdout.splitlines()[1:3]]
    cells = dict(zip(header, row, strict=False))
    assert (cells["REQ"], cells["OK%"], cells["CANCELLED"]) == ("1", "100", "2")
