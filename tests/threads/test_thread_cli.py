"""`run --continue`, `regenerate`, `fork`, `thread` and `export` of a thread, as a script uses them."""

from __future__ import annotations

import pytest

from tests.test_cli import jarvis, write_config
from tests.test_cli_engine import LOCAL_ONLY, run_json

pytestmark = pytest.mark.slow  # every test runs the jarvis command in a subprocess


@pytest.fixture
def home(isolated_home):
    write_config(isolated_home, LOCAL_ONLY)
    return isolated_home


def test_continue_regenerate_fork_thread_and_export(home):
    first = run_json(home, "run", "Write a Python function that reverses a string.", "--max-tokens", "30")
    # No id: the newest run; the follow-up's text may come right after --continue.
    second = run_json(home, "run", "--continue", "Now make it handle None.", "--max-tokens", "30")
    assert second["status"] == "completed" and second["task"] == "Now make it handle None."
    assert (second["turn"], second["parent_run_id"], second["thread_id"]) == (
        2,
        first["run_id"],
        first["run_id"],
    )
    again = run_json(home, "regenerate", second["run_id"], "--max-tokens", "30")
    assert again["task"] == second["task"] and again["run_id"] != second["run_id"]
    fork = run_json(home, "fork", first["run_id"], "Write it in Rust instead.", "--max-tokens", "30")

    thread = run_json(home, "thread", second["run_id"])
    assert thread["thread_id"] == first["run_id"] and thread["forked_from"] == []
    assert [(t["run_id"], t["turn"]) for t in thread["turns"]] == [
        (first["run_id"], 1),
        (second["run_id"], 2),
        (again["run_id"], 2),
    ]
    forked = run_json(home, "thread", fork["run_id"])
    assert [t["run_id"] for t in forked["forked_from"]] == [first["run_id"]]
    assert [(t["run_id"], t["turn"]) for t in forked["turns"]] == [(fork["run_id"], 2)]

    doc = run_json(home, "export", again["run_id"], "--format", "json")
    assert doc["run_id"] == again["run_id"]
    turns = doc["thread"]["turns"]
    assert [t["run_id"] for t in turns] == [first["run_id"], second["run_id"], again["run_id"]]
    assert turns[1]["steps"][0]["output"] == second["steps"][0]["output"]
    markdown = jarvis("export", second["run_id"], home=home).stdout
    assert markdown.startswith(f"# Thread {first['run_id']}")
    assert f"## Turn 2 (regenerated): {again['run_id']}" in markdown
    assert f"## Turn 2: {second['run_id']} ← exported" in markdown

    listed = jarvis("history", home=home).stdout
    assert "  ↳ 2 · Now make it handle None." in listed and "  ⟳ 2 · Now make it" in listed
    assert f"⑂ from {first['run_id']} · Write it in Rust" in listed
    table = jarvis("thread", again["run_id"], home=home).stdout
    assert "2 (again)" in table and f"jarvis run --continue {again['run_id']}" in table

    # A rating goes to the one turn it names.
    assert run_json(home, "rate", second["run_id"], "4")["rating"]["run_id"] == second["run_id"]
    rated = run_json(home, "thread", first["run_id"])["turns"]
    assert [t["rating"] for t in rated] == [None, 4.0, None]


def test_bad_turns_are_one_sentence(home):
    out = jarvis("run", "--continue", "Go on.", home=home)
    assert out.returncode == 2
    assert out.stderr == 'jarvis: There is no run to continue yet; start one with `jarvis run "TASK"`.\n'
    out = jarvis("run", "--continue", "run_nope", "Go on.", home=home)
    assert out.returncode == 2
    assert out.stderr == "jarvis: There is no run run_nope (see `jarvis history`).\n"
    for args in (("regenerate", "run_nope"), ("fork", "run_nope", "x"), ("thread", "run_nope")):
        out = jarvis(*args, home=home)
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and "run_nope" in out.stderr, out.stderr
    out = jarvis("compare", "--continue", "Go on.", home=home)
    assert out.returncode == 2
    assert out.stderr == "jarvis: There is no comparison to continue yet; start one with `jarvis compare`.\n"


def test_compare_continue_sends_the_next_turn_to_the_same_models(home):
    model = "embedded/smollm2-135m"
    cmp = run_json(home, "compare", "Say hi.", "-m", model, "-m", model, "--max-tokens", "8")
    nxt = run_json(home, "compare", "--continue", "Say bye.", "--max-tokens", "8")
    assert nxt["status"] == "completed" and [a["model"] for a in nxt["answers"]] == [model, model]
    thread = run_json(home, "thread", nxt["compare_id"])
    assert [(t["run_id"], t["turn"]) for t in thread["turns"]] == [
        (cmp["compare_id"], 1),
        (nxt["compare_id"], 2),
    ]
