"""The LiteLLM proxy as one more path for bench.serve_overhead: started from its own executable (a venv
with ``litellm[proxy]``, which this project's lock does not have), forwarding to the same loopback SSE
upstream, with everything a fair gateway comparison would not have turned off.

What is set, and why:
- no database (``DATABASE_URL`` and Redis variables removed from its environment): no spend or key
  tables, no batch writers; ``disable_spend_logs`` / ``disable_error_logs`` say the same in the config;
- a master key: the proxy refuses to start without one; with no database the check is a hash compare
  (the bench gives `jarvis serve` the same bearer token, so both check one);
- no retries (``num_retries: 0`` on the router and the library, ``max_retries: 0`` on the deployment),
  no cache, no callbacks, ``turn_off_message_logging``; log level ERROR (``LITELLM_LOG``);
- the bundled model cost map (``LITELLM_LOCAL_MODEL_COST_MAP``): no fetch from GitHub at start;
- one worker (``--num_workers 1``), its own choices otherwise: uvicorn on uvloop (proxy_cli's default
  on Linux), uvicorn's HTTP parser ``auto`` (httptools if that venv has it, else h11);
- run in a temporary folder: the proxy reads a ``.env`` from its working folder.
"""

from __future__ import annotations

import json
import os
import subprocess
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
            "turn_off_message_logging": True,
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
