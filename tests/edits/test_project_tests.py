"""The project's test command on a patched copy, confined; and git's uncommitted changes, with real git."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from jarvis.chains.edits.gitstate import uncommitted
from jarvis.chains.edits.project_tests import CommandNotRunnable, run_project_tests
from jarvis.chains.edits.review import review_answer
from jarvis.chains.verify.tiers import Tier
from tests.edits.project import FIX, PARSER, attached, make_project, no_git

pytestmark = pytest.mark.slow
VENV_BIN = str(Path(sys.executable).parent)  # where this test run's pytest is


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "proj", git=True)


async def test_the_failing_test_passes_on_the_patched_copy_and_the_project_is_untouched(project):
    r = review_answer(FIX, project, attached(project, "parser.py"), dirty=no_git)
    before = await run_project_tests(project, [], "pytest -q tests/test_parser.py", env_path=VENV_BIN)
    after = await run_project_tests(project, r.changes, "pytest -q tests/test_parser.py", env_path=VENV_BIN)
    assert not before.passed and "1 failed, 1 passed" in before.output_tail
    assert after.passed, after.output_tail
    assert "2 passed" in after.output_tail and after.summary().startswith("`pytest -q tests/test_parser.py`")
    assert (project / "parser.py").read_text() == PARSER
    assert not (project / ".pytest_cache").exists()


async def test_under_bubblewrap_the_copy_is_all_it_can_write(project, tmp_path):
    (project / "tests" / "test_escape.py").write_text(
        f"def test_write_outside():\n    open({str(tmp_path / 'escaped')!r}, 'w').write('x')\n"
    )
    result = await run_project_tests(
        project, [], "pytest -q tests/test_escape.py", env_path=VENV_BIN, tiers=(Tier.BWRAP,)
    )
    if result.tier != Tier.BWRAP:
        pytest.skip("bubblewrap does not work on this machine")
    assert not result.passed and not (tmp_path / "escaped").exists()


async def test_a_command_that_is_not_there_is_one_sentence(project):
    with pytest.raises(CommandNotRunnable, match="no-such-tool is not installed here"):
        await run_project_tests(project, [], "no-such-tool -q", env_path="/nonexistent")


async def test_a_hanging_command_is_killed_at_the_wall_clock(project):
    (project / "tests" / "test_hang.py").write_text("import time\n\ndef test_hang():\n    time.sleep(60)\n")
    result = await run_project_tests(
        project, [], "pytest -q tests/test_hang.py", env_path=VENV_BIN, timeout_s=4
    )
    assert result.timed_out and not result.passed and "timed out after" in result.summary()


def test_git_names_uncommitted_files_only(project):
    assert uncommitted(project, ["parser.py", "cli.py"]) == set()
    (project / "parser.py").write_text(PARSER + "# wip\n")
    assert uncommitted(project, ["parser.py", "cli.py"]) == {"parser.py"}
    assert uncommitted(project.parent, ["x.py"]) is None  # not a work tree


def test_review_refuses_over_uncommitted_work_with_real_git(project):
    (project / "parser.py").write_text(PARSER + "# wip\n")
    files = attached(project, "parser.py")  # attached after the edit: the hash agrees, git does not
    [out] = review_answer(FIX, project, files).outcomes
    assert "has uncommitted changes in git" in out.reason
