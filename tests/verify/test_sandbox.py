"""The sandbox contains what model-written code may do, under every tier this machine has.

Each hostile snippet must end in a clear reason, within its limits, with the parent unharmed
(after every test a plain run still passes, and no sandboxed process is left behind).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
import textwrap
from pathlib import Path

import pytest

from jarvis.chains.verify.limits import MB, Limits
from jarvis.chains.verify.sandbox import ASSERTION, EXCEPTION, FILE_SIZE, MEMORY, PASSED, TIMEOUT, Sandbox
from jarvis.chains.verify.tiers import LIMITS_ONLY_WARNING, Interpreter, Tier, TierProbe, confinement_notice

pytestmark = pytest.mark.slow

SHORT = Limits(wall_seconds=3, cpu_seconds=2, memory_bytes=512 * MB, file_bytes=8 * MB, processes=8)
PROBE = TierProbe()  # one probe for the module, as an engine would hold one
CONFINED = (Tier.BWRAP, Tier.UNSHARE)  # the tiers with their own network namespace


@pytest.fixture(params=[Tier.BWRAP, Tier.UNSHARE, Tier.LIMITS_ONLY], ids=lambda t: t.value)
async def sandbox(request):
    tier = request.param
    box = Sandbox(SHORT, tiers=(tier,), probe=PROBE)
    if (await box.tier()).tier is not tier:
        pytest.skip(f"the {tier.value} tier does not work on this machine")
    yield box
    after = await box.run("print('still fine')")
    assert after.passed and after.stdout.strip() == "still fine", after
    for _ in range(30):  # a killed bwrap's inner processes go a moment after it (parent-death signal)
        if not _leftover_children():
            break
        await asyncio.sleep(0.1)
    assert not _leftover_children(), "a sandboxed process outlived its run"


def _leftover_children() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"child_bootstrap.py" in cmdline:
            found.append(int(entry.name))
    return found


async def test_a_plain_run_passes_and_keeps_its_output(sandbox):
    result = await sandbox.run("print('hello'); import sys; print('oops', file=sys.stderr)")
    assert result.reason == PASSED and result.passed
    assert result.stdout.strip() == "hello" and result.stderr.strip() == "oops"
    assert {"cpu_seconds", "memory_bytes", "file_bytes", "open_files"} <= set(result.limits_applied)
    assert result.tier is (await sandbox.tier()).tier


async def test_a_failed_assert_reports_the_actual_value(sandbox):
    result = await sandbox.run("def f(x):\n    return x + 1\n\nassert f(2) == 4, 'f(2) should be 4'\n")
    assert result.reason == ASSERTION
    assert result.actual == "3"
    assert "f(2) should be 4" in result.detail and "candidate.py" in result.traceback


async def test_an_exception_reports_the_last_traceback_lines(sandbox):
    result = await sandbox.run("def g():\n    return {}['missing']\n\ng()\n")
    assert result.reason == EXCEPTION
    assert result.detail.startswith("KeyError") and "g()" in result.traceback


async def test_an_infinite_loop_is_stopped_by_the_cpu_limit(sandbox):
    # A generous wall clock, so that on a busy machine the CPU limit is still what stops it.
    limits = Limits(wall_seconds=20, cpu_seconds=1)
    result = await sandbox.run("while True:\n    pass\n", limits=limits)
    assert result.reason == TIMEOUT and "CPU" in result.detail
    assert result.duration < limits.wall_seconds


async def test_a_long_sleep_is_stopped_by_the_wall_clock(sandbox):
    result = await sandbox.run("import time\ntime.sleep(100)\n")
    assert result.reason == TIMEOUT and "wall" in result.detail
    assert SHORT.wall_seconds <= result.duration < SHORT.wall_seconds + 2


async def test_a_4_gb_allocation_is_refused(sandbox):
    result = await sandbox.run("block = bytearray(4 * 1024 ** 3)\nprint('allocated')\n")
    assert result.reason == MEMORY
    assert "allocated" not in result.stdout


async def test_a_100_mb_file_write_is_cut_at_the_file_size_limit(sandbox):
    code = "with open('big.bin', 'wb') as fh:\n    fh.write(b'x' * (100 * 1024 * 1024))\nprint('wrote')\n"
    result = await sandbox.run(code)
    assert result.reason == FILE_SIZE
    assert "wrote" not in result.stdout


async def test_a_fork_bomb_is_held_to_the_process_budget_and_cleaned_up(sandbox):
    code = textwrap.dedent("""
        import os, time
        while True:
            os.fork()
            print('alive', os.getpid(), flush=True)
    """)
    result = await sandbox.run(code)
    assert result.reason == EXCEPTION and "process limit" in result.detail
    # Parent and child print after each fork: count the distinct processes, the whole tree.
    pids = {line.split()[1] for line in result.full_stdout.splitlines() if line.startswith("alive")}
    assert 1 < len(pids) <= SHORT.processes
    assert result.duration < SHORT.wall_seconds


async def test_starting_another_program_is_refused(sandbox):
    result = await sandbox.run("import subprocess\nsubprocess.run(['sh', '-c', 'echo escaped'])\n")
    assert result.reason == EXCEPTION and "does not allow subprocess.Popen" in result.detail
    assert "escaped" not in result.stdout


async def test_no_network_reaches_a_listener_in_the_parent(sandbox):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    port = listener.getsockname()[1]
    try:
        code = (
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\nprint('connected')\n"
        )
        result = await sandbox.run(code)
        if result.tier is Tier.LIMITS_ONLY:
            # This tier cannot stop it; it must say so.
            assert result.warning == LIMITS_ONLY_WARNING and "network" in result.warning
            return
        assert result.reason == EXCEPTION and "connected" not in result.stdout
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


async def test_the_environment_holds_no_keys(sandbox, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-do-not-leak")
    monkeypatch.setenv("JARVIS_SECRET_TOKEN", "also-secret")
    result = await sandbox.run("import os\nprint(dict(os.environ))\n")
    assert result.passed
    assert "sk-test-do-not-leak" not in result.stdout and "also-secret" not in result.stdout
    assert "OPENAI_API_KEY" not in result.stdout


async def test_home_is_the_work_dir_not_the_users(sandbox, monkeypatch, tmp_path):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("FAKE-PRIVATE-KEY")
    monkeypatch.setenv("HOME", str(home))
    code = "import os\nprint(open(os.path.expanduser('~/.ssh/id_ed25519')).read())\n"
    result = await sandbox.run(code)
    assert result.reason == EXCEPTION and "FileNotFoundError" in result.detail
    assert "FAKE-PRIVATE-KEY" not in result.stdout


async def test_stdin_is_empty(sandbox):
    result = await sandbox.run("import sys\nprint(repr(sys.stdin.read()))\n")
    assert result.passed and result.stdout.strip() == "''"


async def test_only_the_tail_of_a_flood_of_output_is_kept(sandbox):
    result = await sandbox.run("for i in range(200000):\n    print('line', i)\nprint('the end')\n")
    assert result.passed
    assert len(result.stdout) <= SHORT.output_bytes and result.stdout.rstrip().endswith("the end")


# bubblewrap alone hides the filesystem: the other tiers run on the real one (as this user).


@pytest.fixture
async def bwrap_box():
    box = Sandbox(SHORT, tiers=(Tier.BWRAP,), probe=PROBE)
    if (await box.tier()).tier is not Tier.BWRAP:
        pytest.skip("bubblewrap does not work on this machine")
    return box


async def test_bwrap_cannot_read_a_users_ssh_dir_by_its_absolute_path(bwrap_box, tmp_path):
    secret = tmp_path / "home" / ".ssh" / "id_ed25519"
    secret.parent.mkdir(parents=True)
    secret.write_text("FAKE-PRIVATE-KEY")
    result = await bwrap_box.run(f"print(open({str(secret)!r}).read())\n")
    assert result.reason == EXCEPTION and "FAKE-PRIVATE-KEY" not in result.stdout
    real_home = os.path.expanduser("~")
    listing = await bwrap_box.run(f"import os\nprint(os.path.exists({real_home!r} + '/.ssh'))\n")
    assert listing.stdout.strip() == "False"


async def test_bwrap_cannot_write_outside_the_work_dir(bwrap_box, tmp_path):
    target = tmp_path / "outside.txt"
    for path in (str(target), "/etc/jarvis-sandbox-escape", "/usr/jarvis-sandbox-escape", "/tmp/escape"):
        result = await bwrap_box.run(f"open({path!r}, 'w').write('escaped')\n")
        assert result.reason == EXCEPTION, (path, result)
    assert not target.exists()
    assert not Path("/etc/jarvis-sandbox-escape").exists()


async def test_bwrap_can_write_in_its_work_dir(bwrap_box):
    result = await bwrap_box.run("open('notes.txt', 'w').write('ok')\nprint(open('notes.txt').read())\n")
    assert result.passed and result.stdout.strip() == "ok"


async def test_files_are_written_beside_the_code(bwrap_box):
    result = await bwrap_box.run("import helper\nprint(helper.VALUE)\n", files={"helper.py": "VALUE = 42\n"})
    assert result.stdout.strip() == "42"
    with pytest.raises(ValueError, match="plain file name"):
        await bwrap_box.run("pass", files={"../x.py": ""})


def test_limits_refuse_nonsense():
    with pytest.raises(ValueError, match="cpu_seconds must be a positive number"):
        Limits(cpu_seconds=0)
    assert "512 MB memory" in SHORT.describe()


async def test_without_any_namespace_tier_the_result_warns():
    box = Sandbox(SHORT, tiers=(Tier.LIMITS_ONLY,), probe=PROBE)
    result = await box.run("print(1)")
    assert result.tier is Tier.LIMITS_ONLY and result.warning == LIMITS_ONLY_WARNING
    assert result.summary().endswith("[limits-only]")


@pytest.mark.parametrize("tier", [Tier.UNSHARE, Tier.LIMITS_ONLY], ids=lambda t: t.value)
async def test_a_sleeping_candidate_dies_even_when_the_parent_does(tier, tmp_path):
    # bwrap dies with its parent; the other tiers rely on the child's own watchdog (wall + 2 s).
    # These tiers see the real filesystem, so the candidate can tell us its work dir through a file
    # (its pid may be 1, in its own pid namespace).
    if (await Sandbox(tiers=(tier,), probe=PROBE).tier()).tier is not tier:
        pytest.skip(f"the {tier.value} tier does not work on this machine")
    pid_file = tmp_path / "pid"
    script = tmp_path / "parent.py"
    candidate = f"import os, time\nopen({str(pid_file)!r}, 'w').write(os.getcwd())\ntime.sleep(60)\n"
    script.write_text(
        textwrap.dedent(f"""
        import asyncio
        from jarvis.chains.verify.limits import Limits
        from jarvis.chains.verify.sandbox import Sandbox
        from jarvis.chains.verify.tiers import Tier
        box = Sandbox(Limits(wall_seconds=3), tiers=(Tier({tier.value!r}),))
        asyncio.run(box.run({candidate!r}))
    """)
    )
    parent = await asyncio.create_subprocess_exec(sys.executable, str(script))
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text():
            break
        await asyncio.sleep(0.1)
    parent.kill()
    await parent.wait()
    workdir = pid_file.read_text()
    assert _running_in(workdir), "the candidate should still be asleep"
    try:
        for _ in range(120):
            if not _running_in(workdir):
                break
            await asyncio.sleep(0.1)
        assert not _running_in(workdir), "the orphaned candidate outlived its watchdog"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # its parent died before it could clean up


def _running_in(workdir: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if (
                entry.name.isdigit()
                and os.readlink(entry / "cwd") == workdir
                and "State:\tZ" not in (entry / "status").read_text()
            ):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


async def test_the_notice_says_what_runs_and_how_it_is_confined():
    choice = await PROBE.choose(Interpreter.current(), (Tier.LIMITS_ONLY,))
    notice = confinement_notice(choice, SHORT.describe())
    assert "no API keys" in notice and "could read your files and use the network" in notice
    assert notice.endswith(f"limits: {SHORT.describe()}.")


async def test_a_missing_interpreter_is_one_sentence():
    from jarvis.chains.verify.sandbox import SandboxUnavailable

    box = Sandbox(
        SHORT,
        tiers=(Tier.LIMITS_ONLY,),
        probe=TierProbe(),
        interpreter=Interpreter(executable="/nonexistent/python3", prefix="/nonexistent"),
    )
    with pytest.raises(SandboxUnavailable, match=r"^cannot start /nonexistent/python3 for the sandbox: "):
        await box.run("print(1)")


async def test_cancelling_a_run_kills_the_candidate():
    box = Sandbox(SHORT, tiers=(Tier.LIMITS_ONLY,), probe=PROBE)
    task = asyncio.ensure_future(box.run("import time\ntime.sleep(60)\n"))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(30):
        if not _leftover_children():
            break
        await asyncio.sleep(0.1)
    assert not _leftover_children()
