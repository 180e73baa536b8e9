"""The LiteLLM proxy as one more path for bench.serve_overhead: started from its own executable (a venv
with ``litellm[proxy]``, which this project's lock does not have), forwarding to the same loopback SSE
upstream, with everything a fair gateway comparison would not have turned off.

What is set, and why:
- no database (``DATABASE_URL`` and Redis variables removed from its environment): no spend or key
  tables, no batch writers; ``disable_spend_logs`` / ``disable_error_logs`` say the same in the config;
- a master key: the proxy refuses to start without one; with no database the check is a hash compare
  (the bench gives `jarvis serve` the same bearer token, so both check one);
- no retries (``num_retries: 0`` on the router and the library, ``max_retries: 0`` on the deployment),
  no cache, no callbacks; log level ERROR (``LITELLM_LOG``); not ``turn_off_message_logging``: with no
  callback it only adds a redaction step (py-spy: ~2 % of the proxy's samples);
- the bundled model cost map (``LITELLM_LOCAL_MODEL_COST_MAP``): no fetch from GitHub at start;
- one worker (``--num_workers 1``), its own choices otherwise: uvicorn on uvloop (proxy_cli's default
  on Linux), uvicorn's HTTP parser ``auto`` (httptools if that venv has it, else h11);
- run in a temporary folder: the proxy reads a ``.env`` from its working folder.

Run on its own, it checks that the proxy streams: an upstream that sends its chunks 50 ms apart, and the
time each line reaches the client through the proxy (a buffering proxy delivers them all at the end).

Run: .venv/bin/python -m bench.litellm_proxy PATH_TO_LITELLM
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import free_port

#: The name the client asks for; the deployment behind it is the upstream's model `bench`.
MODEL = "bench"
#: Environment variables that would give the proxy a database or a cache.
STATEFUL_ENV = ("DATABASE_URL", "DIRECT_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_URL", "REDIS_PASSWORD")


def config(upstream: str) -> dict:
    """The proxy's config (JSON is YAML, so no YAML writer is needed)."""
    return {
        "model_list": [
            {
                "model_name": MODEL,
                "litellm_params": {
                    "model": f"openai/{MODEL}",
                    "api_base": upstream + "/v1",
                    "api_key": "unused",
                    "max_retries": 0,
                },
            }
        ],
        "litellm_settings": {
            "num_retries": 0,
            "request_timeout": 30,
            "cache": False,
            "set_verbose": False,
        },
        "router_settings": {"num_retries": 0},
        "general_settings": {
            "disable_spend_logs": True,
            "disable_error_logs": True,
            "background_health_checks": False,
            "store_model_in_db": False,
        },
    }


def interpreter(executable: str) -> str:
    """The Python a console script runs with (its shebang)."""
    first = Path(executable).read_bytes().split(b"\n", 1)[0].decode(errors="replace")
    return first[2:].strip() if first.startswith("#!") else "unknown"


def stack_row(executable: str) -> dict[str, str]:
    """What the proxy runs on, for bench.serve_overhead's stack table: its interpreter, the loop its
    proxy_cli asks uvicorn for, and the parser uvicorn's ``auto`` finds there (not recorded at run time:
    the proxy starts its loop itself)."""
    python = interpreter(executable)
    code = "import importlib.util as u; print('httptools' if u.find_spec('httptools') else 'h11')"
    try:
        parser = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60).stdout
    except OSError:
        parser = ""
    return {
        "python": python,
        "loop": "uvloop (LiteLLM's choice)",
        "http": f"uvicorn {parser.strip() or 'unknown'} (installed there)",
    }


def start(executable: str, upstream: str, key: str, folder: Path) -> tuple[subprocess.Popen, str]:
    """The proxy on a free port, once it answers its liveness route; its output goes to
    ``folder/litellm.log``, whose end is in the error when it does not come up."""
    if not os.access(executable, os.X_OK):
        raise SystemExit(
            f"--litellm {executable} is not an executable file; make a venv with"
            ' `pip install "litellm[proxy]"` and pass its bin/litellm.'
        )
    folder.mkdir(parents=True, exist_ok=True)
    cfg = folder / "litellm.yaml"
    cfg.write_text(json.dumps(config(upstream), indent=1))
    env = {k: v for k, v in os.environ.items() if k not in STATEFUL_ENV}
    env |= {"LITELLM_MASTER_KEY": key, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    port = free_port()
    log = folder / "litellm.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                executable,
                "--config",
                str(cfg),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--num_workers",
                "1",
            ],
            cwd=str(folder),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180  # imports and config take ~10 s on an idle core, far more under load
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(url + "/health/liveliness", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    proc.wait(10)
    tail = log.read_text(errors="replace").strip().splitlines()[-3:]
    raise SystemExit(f"The LiteLLM proxy did not come up on {url}; its last log lines: {' / '.join(tail)}")


#: The paced upstream's pause between chunks: long enough that buffering cannot hide in noise.
GAP_S = 0.05
STREAM_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


async def paced_upstream(port: int, started: threading.Event, chunks: int) -> None:
    """An OpenAI chat completion stream, chunked, ``GAP_S`` between chunks."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(h.split(b":")[1])
                        for h in head.split(b"\r\n")
                        if h.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                writer.write(STREAM_HEAD)
                for i in range(chunks):
                    delta = {"content": f" t{i}"}
                    doc = {
                        "id": "x",
                        "object": "chat.completion.chunk",
                        "model": MODEL,
                        "choices": [{"index": 0, "delta": delta}],
                    }
                    line = f"data: {json.dumps(doc)}\n\n".encode()
                    writer.write(b"%x\r\n%s\r\n" % (len(line), line))
                    await writer.drain()
                    await asyncio.sleep(GAP_S)
                done = b"data: [DONE]\n\n"
                writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    started.set()
    async with server:
        await server.serve_forever()


def check_streaming(executable: str, chunks: int = 5) -> None:
    """Print when each content line arrives through the proxy, and whether it streams."""
    port = free_port()
    started = threading.Event()
    # A daemon thread: the upstream ends with this process.
    thread = threading.Thread(target=lambda: asyncio.run(paced_upstream(port, started, chunks)), daemon=True)
    thread.start()
    started.wait(10)
    key = f"sk-bench-{secrets.token_hex(16)}"
    upstream = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start(executable, upstream, key, Path(tmp))
        try:
            # The proxy's first request is its cold one (lazy imports): shown, the verdict is on the last.
            attempts = (
                ("upstream directly", upstream),
                ("proxy, 1st request", url),
                ("proxy, 2nd request", url),
            )
            for label, base in attempts:
                arrivals = content_arrivals(base, key)
                print(f"{label}: content lines at", ", ".join(f"{t * 1000:.0f}" for t in arrivals), "ms")
            spread = arrivals[-1] - arrivals[0] if arrivals else 0.0
            expected = GAP_S * (chunks - 1)
            verdict = "streams" if spread > 0.5 * expected else "buffers"
            gaps = f"{spread * 1000:.0f} ms (upstream: {expected * 1000:.0f} ms)"
            print(f"{verdict}: from the first content line to the last {gaps}")
        finally:
            proc.terminate()
            proc.wait(20)


def content_arrivals(base: str, key: str) -> list[float]:
    """Seconds from sending the request to each content line's arrival."""
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "Say hello."}]}
    arrivals = []
    t0 = time.perf_counter()
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.stream("POST", base + "/v1/chat/completions", json=body, headers=headers) as resp:
        resp.raise_for_status()
        for line in resp.iter_lines():
            if '"content"' in line:
                arrivals.append(time.perf_counter() - t0)
    return arrivals


def main() -> None:
    parser = argparse.ArgumentParser(description="Does the LiteLLM proxy stream? (chunks 50 ms apart)")
    parser.add_argument("litellm", help="the litellm executable of a venv with litellm[proxy]")
    check_streaming(parser.parse_args().litellm)


if __name__ == "__main__":
    main()
