"""Gateway overhead of `jarvis serve`: a client → jarvis serve → a zero-latency loopback SSE upstream
(bench/sse_server.py) vs the client straight to the upstream, interleaved in one run. TTFT (first content
chunk) and total (to `[DONE]`) at concurrency 1 and 8, the added latency at p50 and p99, each the median
of ``--repeat`` interleaved rounds; then open-loop load at rising request rates: the highest rate at
which p99 added latency stays under 10 ms.

`jarvis serve` runs as its own process (as a user runs it), with its ledger in a temporary home: every
served request goes through selection, the step runner and the ledger exactly as in use.
``--baseline DIR`` also serves from another checkout of the project (made with
``git archive <commit> | tar -x -C DIR``) as a third path in the same rounds: before/after in one run.
``--floors KIND ...`` adds bare forwarding servers (bench/serve_floors.py) as more paths: what the HTTP
stacks alone add.
``--stacks`` runs each server under more stacks in the same rounds: ``default`` (this interpreter, asyncio's
loop), ``alt`` (``--alt-python``'s interpreter, e.g. a venv that also has httptools: uvicorn picks its
parser there) and ``alt-uvloop`` (the same on uvloop's loop). Each server runs through bench/stack_main.py,
which records the event loop and the protocol class that served its first connection: printed per path.
``--litellm PATH`` adds the LiteLLM proxy (PATH: the ``litellm`` executable of a venv with
``litellm[proxy]``) as the path ``litellm-proxy``, forwarding to the same upstream (bench/litellm_proxy.py
says how it is configured). The proxy needs a key, so every request then carries one bearer token and
`jarvis serve` checks it too (``JARVIS_SERVE_TOKEN``): both do the same check.

Run: .venv/bin/python -m bench.serve_overhead [--rounds 200] [--repeat 3] [--baseline DIR] [--floors ...]
     [--alt-python PATH --stacks default alt alt-uvloop] [--litellm PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from bench import litellm_proxy, serve_floors, sse_server
from bench.stats import pct
from tests.conftest import free_port

BODY = {"messages": [{"role": "user", "content": "Say hello."}], "stream": True, "max_tokens": 16}
#: The installed package's folders (pyproject's package-dir): a checkout is importable as `jarvis` through
#: a tree of links with this shape.
PACKAGE_DIRS = {"app": "app", "chains": "chains", "providers": "providers", "assets": "assets"}
#: This project's root: `bench` is importable from here.
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Stack:
    """How a server process is started: which interpreter, on which event loop (bench/stack_main.py)."""

    name: str
    python: str
    loop: str

    def command(self, report: Path, module: str, *args: str) -> list[str]:
        """``module`` through bench.stack_main, which writes the loop and protocol in use to ``report``."""
        launcher = ["-m", "bench.stack_main", "--loop", self.loop, "--report", str(report)]
        return [self.python, *launcher, "-m", module, *args]

    def label(self, name: str) -> str:
        return name if self.name == "default" else f"{name}@{self.name}"


STACKS = ("default", "alt", "alt-uvloop")


def stacks(names: list[str], alt_python: str | None) -> list[Stack]:
    out = []
    for name in names:
        python = sys.executable if name == "default" else alt_python
        if python is None:
            raise SystemExit(f"--stacks {name} needs --alt-python PATH (the interpreter to run it with).")
        out.append(Stack(name, python, "uvloop" if name.endswith("uvloop") else "asyncio"))
    return out


def package_tree(checkout: Path, into: Path) -> Path:
    """A directory where `import jarvis` finds ``checkout``'s code (what setuptools' package-dir does)."""
    pkg = into / "jarvis"
    pkg.mkdir(parents=True)
    for name in os.listdir(checkout / "jarvis"):
        (pkg / name).symlink_to(checkout / "jarvis" / name)
    for sub, folder in PACKAGE_DIRS.items():
        if (checkout / folder).exists():
            (pkg / sub).symlink_to(checkout / folder)
    return into


def start_jarvis(
    upstream: str,
    home: Path,
    code: Path | None = None,
    *,
    stack: Stack | None = None,
    report: Path | None = None,
    token: str | None = None,
) -> tuple[subprocess.Popen, str]:
    """``code``: a package tree (package_tree) to serve from instead of the installed package."""
    (home / "config.toml").write_text(
        "[ollama]\nenabled = false\n[lmstudio]\nenabled = false\n[embedded]\nenabled = false\n"
        f'[[openai_endpoints]]\nname = "up"\nurl = "{upstream}"\n'
    )
    return serve(home, code, stack=stack, report=report, token=token)


def serve(
    home: Path,
    code: Path | None = None,
    *,
    stack: Stack | None = None,
    report: Path | None = None,
    token: str | None = None,
) -> tuple[subprocess.Popen, str]:
    """`jarvis serve` on a free port with ``home``'s config, once it printed its ready line; with ``stack``
    (and ``report``), through bench.stack_main on that stack's interpreter and loop; with ``token``,
    requiring it as a bearer token."""
    port = free_port()
    env = {**os.environ, "JARVIS_HOME": str(home)}
    if token is not None:
        env[serve_token_env()] = token
    if code is not None:
        # After the checkout's tree (its `jarvis` first): this project's root, for bench.stack_main.
        env["PYTHONPATH"] = f"{code}{os.pathsep}{ROOT}" if stack is not None else str(code)
    args = ("jarvis.app.cli", "serve", "--port", str(port))
    cmd = [sys.executable, "-m", *args] if stack is None or report is None else stack.command(report, *args)
    proc = subprocess.Popen(
        cmd,
        env=env,
        # Not the project's folder for a baseline: its own `jarvis/` would be found first.
        cwd=str(code) if code is not None else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # the ready line
    return proc, f"http://127.0.0.1:{port}"


def serve_token_env() -> str:
    from jarvis.app.serve_commands import TOKEN_ENV

    return TOKEN_ENV


def start_floor(kind: str, upstream: str, stack: Stack, report: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        stack.command(report, "bench.serve_floors", kind, str(port), upstream),
        cwd=str(ROOT),  # where `bench` is importable, whatever the interpreter
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # "ready"
    return proc, f"http://127.0.0.1:{port}"


async def one(client: httpx.AsyncClient, url: str, model: str) -> tuple[float, float]:
    """(TTFT, total) in seconds for one streamed chat completion."""
    t0 = time.perf_counter()
    first = None
    async with client.stream("POST", url + "/v1/chat/completions", json={**BODY, "model": model}) as resp:
        resp.raise_for_status()
        async for line in resp.aiter_lines():
            if first is None and '"content"' in line and '"content":""' not in line:
                first = time.perf_counter() - t0
            # Read to the end (no break at [DONE]): an unread rest would close the kept-alive connection.
    total = time.perf_counter() - t0
    return (first if first is not None else total), total


async def closed_loop(
    client: httpx.AsyncClient, paths: dict[str, tuple[str, str]], rounds: int, concurrency: int
) -> dict[str, list[tuple[float, float]]]:
    """Each worker takes every path in turn (the order rotates), so all paths see the same load."""
    out: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
    names = list(paths)

    async def worker(w: int) -> None:
        for r in range(rounds // concurrency):
            k = (r + w) % len(names)
            for name in names[k:] + names[:k]:
                out[name].append(await one(client, *paths[name]))

    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return out


async def open_loop(
    client: httpx.AsyncClient, paths: dict[str, tuple[str, str]], rate: float, seconds: float
) -> dict[str, list[float]]:
    """Requests started every 1/rate s per path (interleaved), whatever the answers' pace: totals."""
    out: dict[str, list[float]] = {name: [] for name in paths}
    tasks = []
    start = time.perf_counter()
    n = int(rate * seconds)
    names = list(paths)

    async def timed(name: str) -> None:
        out[name].append((await one(client, *paths[name]))[1])

    for i in range(n):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        k = i % len(names)
        for name in names[k:] + names[:k]:
            tasks.append(asyncio.create_task(timed(name)))
    await asyncio.gather(*tasks)
    return out


def ms(v: float) -> str:
    return f"{v * 1000:.2f}"


def cpu_s(procs: dict[str, psutil.Process]) -> dict[str, float]:
    return {name: sum(p.cpu_times()[:2]) for name, p in procs.items()}


#: (TTFT p50, TTFT p99, total p50, total p99) added over the direct path, in seconds.
Added = tuple[float, float, float, float]


def print_stacks(reports: dict[str, Path], known: dict[str, dict[str, str]]) -> None:
    """What each server's first connection was served by (bench.stack_main wrote it during the warm-up);
    ``known``: rows for servers that start their loop themselves (not recorded)."""
    print("| path | python | event loop | HTTP protocol |")
    print("|---|---|---|---|")
    docs = {label: json.loads(r.read_text()) if r.exists() else {} for label, r in reports.items()}
    for label, doc in (docs | known).items():
        cells = " | ".join(doc.get(k, "not recorded") for k in ("python", "loop", "http"))
        print(f"| {label} | {cells} |")
    print()


async def rates_table(
    client: httpx.AsyncClient, paths: dict[str, tuple[str, str]], served: list[str], args: argparse.Namespace
) -> None:
    """Open loop at rising rates: the highest at which each path's p99 added stays under 10 ms."""
    header = " | ".join(f"{name} total p99 | {name} added p99" for name in served)
    print(f"| rate (req/s per path) | direct total p99 | {header} |")
    print("|---|---|" + "---|---|" * len(served))
    best: dict[str, float | None] = dict.fromkeys(served)
    open_paths = dict(paths)
    for rate in args.rates:
        res2 = await open_loop(client, open_paths, rate, args.seconds)
        p_direct = pct(res2["direct"], 0.99)
        cells = []
        for name in served:
            if name not in res2:
                cells.append("– | –")
                continue
            extra = pct(res2[name], 0.99) - p_direct
            cells.append(f"{ms(pct(res2[name], 0.99))} ms | {ms(extra)} ms")
            if extra < 0.010:
                best[name] = rate
            else:
                open_paths.pop(name)  # past its limit: the next rate is only worse
        print(f"| {rate:g} | {ms(p_direct)} ms | {' | '.join(cells)} |")
        if len(open_paths) == 1:
            break
    print()
    for name in served:
        top = "none" if best[name] is None else f"{best[name]:g}"
        print(f"{name}: highest rate with p99 added < 10 ms: {top} req/s")


async def run(args: argparse.Namespace) -> None:
    up_proc, upstream = sse_server.start(args.tokens)
    with tempfile.TemporaryDirectory() as tmp:
        servers: dict[str, subprocess.Popen] = {}
        reports: dict[str, Path] = {}
        paths = {"direct": (upstream, "bench")}
        # The proxy refuses to start without a key: then every request carries it and jarvis checks it too.
        token = f"sk-bench-{secrets.token_hex(16)}" if args.litellm else None
        known: dict[str, dict[str, str]] = {}
        tree = package_tree(Path(args.baseline).resolve(), Path(tmp) / "code") if args.baseline else None
        for stack in stacks(args.stacks, args.alt_python):
            for name, code in (("jarvis", None), ("baseline", tree)):
                if name == "baseline" and code is None:
                    continue
                label = stack.label(name)
                home = Path(tmp) / label
                home.mkdir()
                reports[label] = Path(tmp) / f"{label}.stack.json"
                servers[label], url = start_jarvis(
                    upstream, home, code, stack=stack, report=reports[label], token=token
                )
                paths[label] = (url, "up/bench")
            for kind in args.floors:
                label = stack.label(f"floor:{kind}")
                reports[label] = Path(tmp) / f"{label}.stack.json"
                servers[label], url = start_floor(kind, upstream, stack, reports[label])
                paths[label] = (url, "bench")
        if args.litellm and token is not None:
            folder = Path(tmp) / "litellm"
            servers["litellm-proxy"], url = litellm_proxy.start(args.litellm, upstream, token, folder)
            paths["litellm-proxy"] = (url, litellm_proxy.MODEL)
            known["litellm-proxy"] = litellm_proxy.stack_row(args.litellm)
        served = list(servers)
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            async with httpx.AsyncClient(timeout=30, limits=limits, headers=headers) as client:
                await closed_loop(client, paths, 40, 4)  # warm-up: connections, first-request paths
                print_stacks(reports, known)
                procs = {name: psutil.Process(p.pid) for name, p in servers.items()}
                added: dict[tuple[int, str], list[Added]] = {}
                cpu: dict[tuple[int, str], list[float]] = {}
                print("| round | concurrency | path | TTFT p50 | TTFT p99 | total p50 | total p99 | n |")
                print("|---|---|---|---|---|---|---|---|")
                for r in range(args.repeat):
                    for conc in (1, 8):
                        before = cpu_s(procs)
                        res = await closed_loop(client, paths, args.rounds, conc)
                        after = cpu_s(procs)
                        p = {
                            name: (
                                pct([x[0] for x in v], 0.5),
                                pct([x[0] for x in v], 0.99),
                                pct([x[1] for x in v], 0.5),
                                pct([x[1] for x in v], 0.99),
                            )
                            for name, v in res.items()
                        }
                        for name, (a, b, c, d) in p.items():
                            n = len(res[name])
                            print(
                                f"| {r + 1} | {conc} | {name} | {ms(a)} | {ms(b)} | {ms(c)} | {ms(d)} | {n} |"
                            )
                        for name in served:
                            diff = tuple(x - y for x, y in zip(p[name], p["direct"], strict=True))
                            added.setdefault((conc, name), []).append(diff)  # type: ignore[arg-type]
                            per = (after[name] - before[name]) / len(res[name])
                            cpu.setdefault((conc, name), []).append(per)
                print()
                print(f"Added over direct, median of {args.repeat} interleaved rounds:")
                print()
                print(
                    "| concurrency | path | TTFT p50 | TTFT p99 | total p50 | total p99 | CPU per request |"
                )
                print("|---|---|---|---|---|---|---|")
                for (conc, name), rows in added.items():
                    med = [statistics.median(x[i] for x in rows) for i in range(4)]
                    per = statistics.median(cpu[(conc, name)])
                    cells = " | ".join(f"{ms(v)} ms" for v in med)
                    print(f"| {conc} | {name} | {cells} | {ms(per)} ms |")
                print()
                print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
                print()
                if args.rates:
                    await rates_table(client, paths, served, args)
        finally:
            for proc in servers.values():
                proc.send_signal(signal.SIGINT)
            for proc in servers.values():
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()  # a server that does not stop on SIGINT must not outlive the bench
                    proc.wait(10)
            up_proc.terminate()
            up_proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=200, help="requests per path at each concurrency")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--tokens", type=int, default=16, help="content chunks per upstream answer")
    parser.add_argument(
        "--rates", type=float, nargs="*", default=[25, 50, 100, 200, 400], help="open-loop rates; none: skip"
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds at each rate")
    parser.add_argument(
        "--baseline", metavar="DIR", help="another checkout (git archive) served as a third path, to compare"
    )
    parser.add_argument(
        "--floors", nargs="*", default=[], choices=serve_floors.KINDS, help="bare forwarding servers as paths"
    )
    parser.add_argument(
        "--stacks", nargs="+", default=["default"], choices=STACKS, help="stacks to run each server under"
    )
    parser.add_argument(
        "--alt-python", metavar="PATH", help="the interpreter for the alt stacks (e.g. a venv with httptools)"
    )
    parser.add_argument(
        "--litellm",
        metavar="PATH",
        help="a litellm executable (venv with litellm[proxy]): the LiteLLM proxy as the path litellm-proxy",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
