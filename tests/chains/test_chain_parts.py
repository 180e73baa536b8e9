"""Chain specs, prompt building with visible trimming, and the ResultSynthesizer."""

from __future__ import annotations

from jarvis.chains import prompts
from jarvis.chains.specs import ChainLibrary, RoleSpec
from jarvis.chains.synthesizer import ResultSynthesizer, extract_code_blocks, parse_verdict


def test_shipped_chains_and_user_chains(tmp_path):
    (tmp_path / "mine.toml").write_text('name = "mine"\n[[roles]]\nname = "solo"\nprompt = "Do: {task}"\n')
    (tmp_path / "broken.toml").write_text('name = "broken"\nroles = 3\n')
    (tmp_path / "default.toml").write_text(
        'name = "default"\ndescription = "mine now"\n[[roles]]\nname = "x"\n'
    )
    lib = ChainLibrary.load(tmp_path)
    assert {"default", "code", "planning", "analysis", "mine"} <= set(lib.chains)
    code = lib.get("code")
    assert [r.name for r in code.roles] == ["planner", "executor", "reviewer"] and code.max_rounds == 2
    assert code.reviewer.name == "reviewer" and code.roles[1].revise_prompt
    assert lib.get("default").description == "mine now"  # a user chain replaces a shipped one
    assert any("broken.toml" in p and "roles" in p for p in lib.problems)


def test_long_history_is_trimmed_with_a_notice():
    role = RoleSpec(name="reviewer", prompt="Task: {task}\n\nCode:\n{code}")
    code = "def f():\n    return 1\n" * 600
    built = prompts.build(
        role, {"task": "Review it.", "code": code}, window=1024, max_tokens=200, model_id="embedded/x"
    )
    assert built.est_tokens + 200 <= 1024
    [notice] = built.notices
    assert "Trimmed 'code'" in notice and "embedded/x's 1024-token window" in notice
    text = built.messages[-1].content
    assert "tokens trimmed to fit the context window" in text and text.startswith("Task: Review it.")
    untouched = prompts.build(role, {"task": "Review it.", "code": "x = 1"}, window=1024, max_tokens=200)
    assert not untouched.notices and "x = 1" in untouched.messages[-1].content


def test_missing_template_fields_read_as_none():
    role = RoleSpec(name="r", system="sys", prompt="{task} / {plan}")
    built = prompts.build(role, {"task": "T"})
    assert [m.role for m in built.messages] == ["system", "user"]
    assert built.messages[1].content == "T / (none)"


def test_code_blocks_languages_and_file_names():
    text = (
        "Here:\n```python\nclass LRUCache:\n    pass\n```\nand\n"
        "```js\n// file: src/util.js\nexport const x = 1\n```\n```\nplain\n```"
    )
    blocks = extract_code_blocks(text)
    assert [(b.language, b.filename) for b in blocks] == [
        ("python", "l_r_u_cache.py"),
        ("javascript", "src/util.js"),
        (None, "snippet_3.txt"),
    ]
    broken = extract_code_blocks("```python\ndef f(:\n    pass\n```")[0]
    assert broken.syntax_error == "f.py line 1: invalid syntax"
    unterminated = extract_code_blocks("```python\nx = 1\n")
    assert unterminated[0].code == "x = 1"


def test_verdicts():
    assert parse_verdict("VERDICT: APPROVE\nAll good, no need to revise.").decision == "approve"
    revise = parse_verdict("VERDICT: REVISE\n- handles None badly\n* off by one")
    assert revise.decision == "revise" and revise.issues == ["handles None badly", "off by one"]
    assert parse_verdict("Looks good to me.").decision == "approve"
    assert parse_verdict("Hmm.").decision == "unclear"


def test_synthesized_result_summarises_answer_files_and_review():
    result = ResultSynthesizer().synthesize(
        {"executor": "```python\ndef add(a, b):\n    return a + b\n```"},
        "executor",
        "VERDICT: APPROVE",
        "python",
    )
    assert result.code_blocks[0].filename == "add.py" and not result.syntax_errors
    assert "## Files" in result.summary_markdown and "## Review: approve" in result.summary_markdown
    assert result.as_json()["verdict"]["decision"] == "approve"
