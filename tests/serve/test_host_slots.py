"""Ollama's and LM Studio's slots are shared by every jarvis process on the machine (a workbench and a
separate `jarvis serve`): two routers on one slot folder take turns as two processes would (flock locks
conflict between two opens of a file, even in one process), and a killed holder frees its slot."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from jarvis.chains.host_slots import HostSlots
from jarvis.chains.router import QueueCancelled, Router
from tests.serve.test_router import entry

QWEN = entry("ollama", "qwen2.5-coder:7b")


def routers(tmp_path) -> tuple[Router, Router]:
    """Two processes' routers, as build_engine makes them for one data folder."""
    return (
        Router(host_slots=HostSlots(tmp_path / "slots", poll_s=0.01)),
        Router(host_slots=HostSlots(tmp_path / "slots", poll_s=0.01)),
    )


async def test_the_other_process_waits_for_the_slot_and_gets_it_on_release(tmp_path):
    tui, serve = routers(tmp_path)
    held = await tui.acquire(QWEN)
    waiting = asyncio.create_task(serve.acquire(QWEN))
    await asyncio.sleep(0.1)
    assert not waiting.done()  # one Ollama slot per model, machine-wide
    held.release()
    lease = await asyncio.wait_for(waiting, 2)
    assert lease.host is not None and lease.endpoint.id == QWEN.id
    lease.release()
    # Another model, a batching server and the embedded backend are not held up by a taken slot.
    again = await tui.acquire(QWEN)
    other = await asyncio.wait_for(serve.acquire(entry("ollama", "llama3.2:3b")), 1)
    embedded = await asyncio.wait_for(serve.acquire(entry("embedded", QWEN.name, "embedded")), 1)
    vllm = await asyncio.wait_for(serve.acquire(entry("vllm", QWEN.name, "openai")), 1)
    assert embedded.host is None and vllm.host is None
    for lease in (again, other, embedded, vllm):
        lease.release()


async def test_cancelled_while_waiting_on_another_process_holds_nothing(tmp_path):
    tui, serve = routers(tmp_path)
    held = await tui.acquire(QWEN)
    cancel = asyncio.Event()
    waiting = asyncio.create_task(serve.acquire(QWEN, cancel=cancel))
    await asyncio.sleep(0.05)
    assert serve.load().in_flight == 1  # its own slot is taken while it waits for the machine's
    cancel.set()
    with pytest.raises(QueueCancelled):
        await asyncio.wait_for(waiting, 2)
    assert serve.load().in_flight == 0
    held.release()
    lease = await asyncio.wait_for(serve.acquire(QWEN), 1)
    lease.release()


@pytest.mark.slow  # starts a process that holds the slot, then kills it
async def test_a_killed_holder_frees_the_slot(tmp_path):
    router, _ = routers(tmp_path)
    probe = await router.acquire(QWEN)  # makes the lock file; its name is the slot's
    [slot_file] = list((tmp_path / "slots").iterdir())
    probe.release()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR);"
            " fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(120)",
            str(slot_file),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        waiting = asyncio.create_task(router.acquire(QWEN))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        started = time.perf_counter()
        holder.kill()
        lease = await asyncio.wait_for(waiting, 5)
        assert time.perf_counter() - started < 2
        lease.release()
    finally:
        holder.kill()
        holder.wait(10)


async def test_slots_are_per_address_so_a_jarvis_behind_ollama_never_waits_for_itself(tmp_path):
    """A process whose "ollama" is another jarvis serve holds its slot while that server takes the real
    Ollama's: keyed by provider name they would wait for each other forever."""
    real = HostSlots(tmp_path / "slots", poll_s=0.01, where=lambda e: "http://127.0.0.1:11434")
    relay = HostSlots(tmp_path / "slots", poll_s=0.01, where=lambda e: "http://127.0.0.1:11435")
    held = await Router(host_slots=relay).acquire(QWEN)
    inner = await asyncio.wait_for(Router(host_slots=real).acquire(QWEN), 1)
    inner.release()
    held.release()


async def test_the_engine_keys_slots_by_the_providers_address(isolated_home):
    from jarvis.app.engine import build_engine
    from jarvis.app.paths import resolve_paths
    from tests.serve.conftest import make_config

    engine = build_engine(make_config(ollama="http://127.0.0.1:9", embedded=False), resolve_paths())
    try:
        slots = engine.router.host_slots
        assert slots is not None and slots.folder == isolated_home / "slots"
        assert slots.where is not None and slots.where(QWEN) == "http://127.0.0.1:9"
    finally:
        await engine.close()
