"""`jarvis run -f/--dir` end to end: the files reach the model's prompt (seen at the Ollama test server),
`--json` carries them and the notices, the ledger keeps them, a small window says what it left out, and
`--rerun` runs again with the same files."""

from __future__ import annotations

import hashlib
import json

import pytest

from jarvis.chains.ledger import Ledger
from tests.context.project_fixture import PARSER, make_project
from tests.test_cli import jarvis, write_config

pytestmark = pytest.mark.slow  # runs the jarvis command (and a model server)


def _run(home, *args):
    out = jarvis("run", *args, "--json", home=home, timeout=240)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_attached_files_reach_the_prompt_and_the_ledger(isolated_home, tmp_path, ollama_url, proxy_for_sync):
    proxy = proxy_for_sync(ollama_url)
    write_config(
        isolated_home,
        f'[ollama]\nhosts = [{{name = "ollama", url = "{proxy.url}"}}]\n'
        "[lmstudio]\nenabled = false\n[embedded]\nenabled = false\n",
    )
    root = make_project(tmp_path / "proj")
    parser = root / "app" / "parser.py"
    doc = _run(
        isolated_home, "What does parse return?", "-f", str(parser), "-f", str(root / "logo.png"),
        "-m", "ollama/smollm2:135m", "--max-tokens", "8", "--keep-context",
    )  # fmt: skip
    chats = [json.loads(b) for p, b in zip(proxy.paths, proxy.bodies, strict=True) if p == "/api/chat"]
    assert chats, proxy.paths
    prompt = chats[-1]["messages"][-1]["content"]
    assert prompt.startswith("What does parse return?")
    assert "<<<PROJECT CONTEXT" in prompt and "File: app/parser.py\n```python\n" + PARSER + "```" in prompt
    assert "logo.png" not in prompt
    files = {f["path"]: f for f in doc["files"]}
    assert files["app/parser.py"]["sha256"] == hashlib.sha256(PARSER.encode()).hexdigest()
    assert files["app/parser.py"]["status"] == "included" and files["app/parser.py"]["tokens"] > 0
    assert files["logo.png"]["status"] == "left_out"
    assert "logo.png is not attached: it is a binary file." in doc["context"]["notices"]
    assert doc["context"]["window"] and doc["context"]["tokens"] > 0
    ledger = Ledger(isolated_home / "jarvis.db")
    rows = ledger.run_files(doc["run_id"])
    ledger.close()
    assert [r.path for r in rows] == ["app/parser.py", "logo.png"] and rows[0].content == PARSER
    assert rows[0].root == str(root)

    parser.write_text(PARSER + "\n\ndef extra() -> None: ...\n")
    proxy.bodies.clear()
    proxy.paths.clear()
    again = _run(isolated_home, "--rerun", doc["run_id"], "-m", "ollama/smollm2:135m", "--max-tokens", "8")
    assert again["task"] == "What does parse return?" and again["run_id"] != doc["run_id"]
    prompt = [json.loads(b) for b in proxy.bodies if b][-1]["messages"][-1]["content"]
    assert "def extra() -> None" in prompt
    assert (
        f"app/parser.py changed since {doc['run_id']}: its current version is attached."
        in again["context"]["notices"]
    )


def test_small_window_leaves_files_out_visibly(isolated_home, tmp_path):
    write_config(
        isolated_home,
        "[ollama]\nenabled = false\n[lmstudio]\nenabled = false\n"
        '[[custom_models]]\nid = "embedded/smollm2-135m"\ncontext_length = 700\n',
    )
    root = make_project(tmp_path / "proj")
    big = root / "big.py"
    big.write_text("".join(f"def function_{i}(x):\n    return x * {i}\n\n" for i in range(300)))
    doc = _run(
        isolated_home, "Summarise.", "-f", str(root / "app" / "util.py"), "-f", str(big),
        "-f", str(root / "app" / "parser.py"), "--max-tokens", "8",
    )  # fmt: skip
    status = {f["path"]: f["status"] for f in doc["context"]["files"]}
    assert status["app/util.py"] == "included"
    assert status["big.py"] in ("trimmed", "left_out") and status["app/parser.py"] == "left_out"
    said = " ".join(doc["context"]["notices"])
    assert "big.py" in said and "app/parser.py (" in said and "700-token window" in said
    assert "No known model has a window for all of it" in said or "would fit" in said
    assert {f["path"]: f["status"] for f in doc["files"]} == status


def test_bad_paths_are_one_sentence(isolated_home, tmp_path):
    out = jarvis("run", "x", "-f", str(tmp_path / "nope.py"), home=isolated_home)
    assert out.returncode == 2 and "does not exist" in out.stderr and "Traceback" not in out.stderr
    out = jarvis("run", "--rerun", "run_nope", home=isolated_home)
    assert out.returncode == 2 and "There is no run run_nope" in out.stderr
    out = jarvis("run", home=isolated_home)
    assert out.returncode == 2 and "the task is missing" in out.stderr


def test_a_folder_too_big_for_the_window_goes_as_a_repo_map(isolated_home, tmp_path):
    write_config(
        isolated_home,
        "[ollama]\nenabled = false\n[lmstudio]\nenabled = false\n"
        '[[custom_models]]\nid = "embedded/smollm2-135m"\ncontext_length = 1500\n',
    )
    root = make_project(tmp_path / "proj", git=True)
    for i in range(12):
        body = "".join(f"    value_{j} = {j}\n" for j in range(40))
        (root / "app" / f"mod{i}.py").write_text(
            f"class Model{i}:\n    def run_{i}(self, x: int) -> int:\n{body}"
        )
    doc = _run(isolated_home, "Where is Model3 defined?", "--dir", str(root), "--max-tokens", "8")
    status = {f["path"]: f["status"] for f in doc["context"]["files"]}
    assert "build/out.py" not in status and "debug.log" not in status  # .gitignore'd
    assert status["logo.png"] == "left_out"
    assert "map" in status.values() and status["app/mod3.py"] == "included"  # the task names Model3
    assert any("shown only as outlines in the repo map" in n for n in doc["context"]["notices"])
    assert doc["context"]["tokens"] < 1500
    assert (isolated_home / "repomap").is_dir() and list((isolated_home / "repomap").iterdir())
