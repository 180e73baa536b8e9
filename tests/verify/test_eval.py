"""`jarvis eval`: a scripted coder (known-good and known-bad code) through the real engine and sandbox,
checked for exact matrix counts, ledger rows, the JSON shape, bad-input sentences and the scores."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence

import pytest

from jarvis.app.eval_commands import load
from jarvis.chains.eval_matrix import TaskResult, matrix, wilson
from jarvis.chains.eval_runner import EvalError, EvalRunner, final_code, model_prompt
from jarvis.chains.eval_store import eval_run, eval_runs, recover_interrupted_evals, start_eval
from jarvis.chains.scores import PerformanceMonitor
from jarvis.chains.verify.sandbox import Sandbox
from jarvis.chains.verify.suites import Task, load_jsonl_suite
from jarvis.chains.verify.tiers import Interpreter, Tier, TierProbe
from jarvis.providers.types import GenerationOptions, Message
from tests.chains.rig import build_rig
from tests.chains.scripted import ScriptedProvider
from tests.test_cli import jarvis, write_config

PROBE = TierProbe()  # one probe for the module: the machine does not change between tests
GOOD = {
    "add": "def add(a, b):\n    return a + b",
    "neg": "def neg(x):\n    return -x",
    "inc": "def inc(x):\n    return x + 1",
}
BAD = {
    "add": "def add(a, b):\n    return a - b",
    "neg": "def neg(x):\n    return -x",
    "inc": None,
}  # no code at all: prose only
SUITE = [
    {
        "id": "add",
        "task": "Write add(a, b) returning the sum.",
        "tests": ["add(1, 2) == 3", "add(-1, 1) == 0"],
        "entry_point": "add",
    },
    {
        "id": "neg",
        "task": "Write neg(x) returning minus x.",
        "tests": "from solution import neg\n\ndef test_neg():\n    assert neg(2) == -2\n",
    },
    {
        "id": "inc",
        "task": "Write a function adding one to x.",
        "tests": "def check(candidate):\n    assert candidate(1) == 2\n",
        "entry_point": "inc",
    },
]


class ScriptedCoders(ScriptedProvider):
    """`good` writes correct code for every suite task, `bad` a wrong add and no code for inc."""

    models = ("good", "bad")

    def answer(self, model: str, messages: Sequence[Message], options: GenerationOptions | None) -> str:
        task = messages[-1].content
        name = next(n for n in GOOD if re.search(rf"\b{n}\b", task))
        code = (GOOD if model == "good" else BAD)[name]
        return f"```python\n{code}\n```\nDone." if code else "I would add one to x."


@pytest.fixture
async def rig(tmp_path):
    engine = build_rig([ScriptedCoders("script")], tmp_path / "ledger.db")
    await engine.registry.refresh()
    registry, ledger, orchestrator = engine.registry, engine.ledger, engine.orchestrator
    chains = orchestrator.chains
    eval_runner = EvalRunner(
        orchestrator.run, registry=registry, chains=chains, ledger=ledger, sandbox=Sandbox(probe=PROBE)
    )
    yield eval_runner
    ledger.close()


@pytest.fixture
def suite_file(tmp_path):
    path = tmp_path / "mini.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in SUITE) + "\n")
    return path


def test_wilson_interval_is_bounded_and_known_values():
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0
    low, high = wilson(5, 10)
    assert round(low, 3) == 0.237 and round(high, 3) == 0.763
    assert wilson(0, 0) == (0.0, 1.0)


def test_matrix_counts_tokens_and_median():
    runs = [(True, 10, 1.0), (False, 20, 3.0), (True, 30, 2.0)]
    rows = [
        TaskResult(str(i), "m", "c", passed, "", tokens, seconds, 0.1, "bwrap", None)
        for i, (passed, tokens, seconds) in enumerate(runs)
    ]
    [cell] = matrix(rows)
    assert (cell.tasks, cell.passed, cell.tokens_per_task, cell.tokens_per_solved, cell.median_s) == (
        3,
        2,
        20.0,
        30.0,
        2.0,
    )
    assert cell.row()[2].startswith("2/3 67% [")


def test_final_code_prefers_the_entry_point_and_completes_python_tasks():
    task = Task(id="t", task="write f", checks=(), entry_point="f")
    result = {
        "answer": "",
        "code_blocks": [
            {"language": "python", "code": "def helper():\n    return 1\n\n\n# a longer block"},
            {"language": "python", "code": "def f():\n    return 2", "syntax_error": None},
        ],
    }
    assert final_code(result, task) == "def f():\n    return 2"
    assert final_code({"answer": "no code", "code_blocks": []}, task) is None
    stub = Task(
        id="h",
        task='from typing import List\n\ndef f(x: List[int]) -> int:\n    """Sum."""\n',
        checks=(),
        entry_point="f",
    )
    code = final_code({"code_blocks": [{"language": "python", "code": "def f(x):\n    return sum(x)"}]}, stub)
    assert code.startswith("from typing import List") and code.rstrip().endswith("return sum(x)")
    assert "Complete this Python code" in model_prompt(stub)
    assert model_prompt(Task(id="n", task="add one", checks=(), entry_point="inc")).endswith("`inc`.")


@pytest.mark.slow
async def test_eval_matrix_ledger_and_scores(rig, suite_file):
    suite = load_jsonl_suite(suite_file)
    seen = []
    report = await rig.run(suite, ["script/good", "script/bad"], ["default", "code"], on_progress=seen.append)
    cells = {(c.model, c.chain): c for c in report.cells()}
    assert [(k, c.passed, c.tasks) for k, c in cells.items()] == [
        (("script/good", "default"), 3, 3),
        (("script/good", "code"), 3, 3),
        (("script/bad", "default"), 1, 3),
        (("script/bad", "code"), 1, 3),
    ]
    # One step of 30 + 12 tokens in `default`, three (planner, executor, reviewer) in `code`.
    assert cells[("script/good", "default")].tokens_per_task == 42
    assert cells[("script/good", "code")].tokens_per_task == 126
    assert cells[("script/bad", "default")].tokens_per_solved == 126
    bad = {r.task_id: r for r in report.results if r.model == "script/bad" and r.chain == "default"}
    assert bad["add"].reason == "2 of 2 checks failed, first add(1, 2) == 3 (got -1)"
    assert bad["add"].checks_passed == 0 and bad["add"].checks_total == 2
    assert bad["inc"].reason == "the answer has no Python code" and bad["inc"].tier is None
    assert bad["neg"].passed and bad["neg"].tier == report.tier
    assert len(seen) == 24 and seen[-1].index == seen[-1].total == 12 and seen[-1].result is not None
    # The ledger: the eval, each result linked to a normal run that History shows.
    ledger = rig.ledger
    stored = await ledger.call_fn(eval_run, report.eval_id)
    assert stored["status"] == "completed" and stored["tier"] == report.tier and len(stored["results"]) == 12
    assert sum(r["passed"] for r in stored["results"]) == 8
    history = {r["id"] for r in await ledger.history(limit=100)}
    assert {r["run_id"] for r in stored["results"]} <= history
    assert "PATH" not in json.dumps(stored)  # never the environment
    [listed] = await ledger.call_fn(eval_runs)
    assert (listed["results"], listed["passed"]) == (12, 8)
    # The doc scripts read.
    doc = report.as_json()
    assert set(doc) == {"eval_id", "suite", "status", "tier", "warning", "matrix", "results"}
    assert doc["matrix"][2]["passed"] == 1 and len(doc["matrix"][2]["ci95"]) == 2
    # Scores: bad's 2 failed tasks per chain count against it, on top of its answered requests.
    rows = {r["model"]: r for r in await ledger.call_fn(lambda led: PerformanceMonitor(led).table())}
    assert rows["script/good"]["success_rate"] == 1.0
    assert rows["script/bad"]["requests"] == 12 + 6 and rows["script/bad"]["successes"] == 12 + 2
    by_role = await ledger.call_fn(lambda led: PerformanceMonitor(led).table(role="eval", by_role=True))
    assert {(r["model"], r["successes"], r["requests"]) for r in by_role} == {
        ("script/good", 6, 6),
        ("script/bad", 2, 6),
    }


@pytest.mark.slow
async def test_cancel_stops_between_tasks(rig, suite_file):
    cancel = asyncio.Event()

    def stop_after_first(progress) -> None:
        if progress.result is not None:
            cancel.set()

    report = await rig.run(
        load_jsonl_suite(suite_file),
        ["script/good"],
        ["default"],
        on_progress=stop_after_first,
        cancel=cancel,
    )
    assert report.status == "cancelled" and len(report.results) == 1
    stored = await rig.ledger.call_fn(eval_run, report.eval_id)
    assert stored["status"] == "cancelled" and len(stored["results"]) == 1


async def test_unknown_model_and_chain_are_refused_before_anything_runs(rig, suite_file):
    suite = load_jsonl_suite(suite_file)
    with pytest.raises(EvalError) as err:
        await rig.run(suite, ["script/nope"], ["default"])
    assert err.value.kind == "no_model" and "script/nope" in str(err.value)
    with pytest.raises(EvalError) as err:
        await rig.run(suite, ["script/good"], ["nochain"])
    assert err.value.kind == "usage" and "nochain" in str(err.value)
    assert await rig.ledger.call_fn(eval_runs) == []


async def test_no_sandbox_is_refused_before_anything_runs(rig, suite_file):
    nowhere = Interpreter("/nonexistent/python3", "/nonexistent")
    broken = Sandbox(tiers=(Tier.LIMITS_ONLY,), interpreter=nowhere)
    runner = EvalRunner(rig._run, registry=rig.registry, chains=rig.chains, ledger=rig.ledger, sandbox=broken)
    with pytest.raises(EvalError) as err:
        await runner.run(load_jsonl_suite(suite_file), ["script/good"], ["default"])
    assert err.value.kind == "sandbox" and str(err.value).startswith("no sandbox can run code here: ")
    assert await rig.ledger.history() == []


async def test_an_eval_whose_process_died_reads_as_interrupted(rig):
    def left_running(led):
        start_eval(
            led,
            "eval_old",
            suite="s",
            source="s.jsonl",
            models=["m"],
            chains=["default"],
            task_count=1,
            tier="bwrap",
            limits={},
        )
        led.db.execute("UPDATE eval_runs SET pid = 999999999 WHERE id = 'eval_old'")
        return recover_interrupted_evals(led)

    assert await rig.ledger.call_fn(left_running) == ["eval_old"]
    assert (await rig.ledger.call_fn(eval_run, "eval_old"))["status"] == "interrupted"


def test_every_and_limit_pick_tasks(suite_file):
    assert [t.id for t in load(str(suite_file), None, 2).tasks] == ["add", "inc"]
    assert [t.id for t in load(str(suite_file), 1, 2).tasks] == ["add"]
    assert [t.id for t in load("humaneval", 3, 40).tasks] == ["HumanEval/0", "HumanEval/40", "HumanEval/80"]


@pytest.fixture
def home(isolated_home):
    write_config(isolated_home, "[ollama]\nenabled = false\n[lmstudio]\nenabled = false\n")
    return isolated_home


@pytest.mark.slow  # the jarvis command in a subprocess
def test_cli_bad_input_sentences(home, tmp_path, suite_file):
    out = jarvis("eval", "nosuite", "-m", "x/y", home=home)
    assert out.returncode == 2 and "no suite named 'nosuite'" in out.stderr and "Traceback" not in out.stderr
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(SUITE[0]) + "\n{not json\n")
    out = jarvis("eval", str(broken), "-m", "x/y", home=home)
    assert out.returncode == 2 and "broken.jsonl line 2 is not valid JSON" in out.stderr
    out = jarvis("eval", str(suite_file), "-m", "x/y", "--every", "0", home=home)
    assert out.returncode == 2 and "--every must be 1 or more" in out.stderr


@pytest.mark.slow
def test_cli_unknown_model_and_chain(home, suite_file):
    out = jarvis("eval", str(suite_file), "-m", "embedded/nope", home=home, timeout=120)
    assert out.returncode == 4 and "No model 'embedded/nope'" in out.stderr and "Traceback" not in out.stderr
    out = jarvis(
        "eval", str(suite_file), "-m", "embedded/smollm2-135m", "--chain", "nochain", home=home, timeout=120
    )
    assert out.returncode == 2 and "no chain named 'nochain'" in out.stderr


@pytest.mark.slow
def test_cli_json_with_smollm2(home, suite_file):
    out = jarvis(
        "eval",
        str(suite_file),
        "-m",
        "embedded/smollm2-135m",
        "--limit",
        "1",
        "--max-tokens",
        "60",
        "--json",
        home=home,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    [cell] = doc["matrix"]
    assert (cell["model"], cell["chain"], cell["tasks"]) == ("embedded/smollm2-135m", "default", 1)
    [row] = doc["results"]
    # SmolLM2 cannot be relied on to write correct code, nor to be admitted on a loaded machine: the shape.
    assert row["task_id"] == "add" and row["run_id"].startswith("run_"), out.stderr
    assert isinstance(row["tokens"], int) and isinstance(row["passed"], bool) and row["reason"], out.stderr
    assert "[1/1] embedded/smollm2-135m default add" in out.stderr
