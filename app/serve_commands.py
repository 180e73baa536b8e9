"""`jarvis serve`: the engine behind the OpenAI and Ollama APIs, for editors and tools (app/serve)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
from types import FrameType
from typing import TYPE_CHECKING, Any

from .exit_codes import EXIT_OK, EXIT_USAGE
from .output import fail

if TYPE_CHECKING:  # the parser is built without loading the engine's modules (tests/test_cli.py)
    from .config import Config
    from .paths import Paths

DEFAULT_PORT = 11435
#: Seconds answers in flight get to finish after Ctrl+C.
GRACE_S = 3
#: The token from the environment: a --token on the command line shows in `ps` to every user.
TOKEN_ENV = "JARVIS_SERVE_TOKEN"


def register(add: Any) -> None:
    p: argparse.ArgumentParser = add(
        "serve", "serve the models over the OpenAI (/v1) and Ollama (/api) APIs for editors and tools"
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others need --token)"
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument(
        "--token",
        help=f"require `Authorization: Bearer TOKEN` on every request (or set {TOKEN_ENV}, which other"
        " users cannot read from the process list)",
    )
    p.add_argument(
        "--cors", nargs="+", default=[], metavar="ORIGIN", help="browser origins allowed to call (CORS)"
    )
    p.add_argument(
        "--allow-host", nargs="+", default=[], metavar="NAME", help="more names clients may use in Host"
    )
    p.add_argument(
        "--grace",
        type=float,
        default=GRACE_S,
        metavar="SECONDS",
        help=f"seconds answers in flight may finish after Ctrl+C before they are cut (default {GRACE_S})",
    )
    for action in p._actions:  # `add` gave every command the same --json help; serve's prints lines
        if "--json" in action.option_strings:
            action.help = "print the ready line and the lifecycle events as JSON lines (never the token)"
    p.set_defaults(handler=serve)


def base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def ready_line(host: str, port: int) -> str:
    base = base_url(host, port)
    return f"serving OpenAI API at {base}/v1 and Ollama API at {base}"


def ready_doc(host: str, port: int, token: str | None, models: int) -> dict[str, Any]:
    """`--json`'s first line: where each face is and whether a token is needed (never the token)."""
    base = base_url(host, port)
    return {
        "event": "ready",
        "openai_url": f"{base}/v1",
        "ollama_url": base,
        "host": host,
        "port": port,
        "token_required": token is not None,
        "models": models,
        "pid": os.getpid(),
    }


def emit_line(doc: dict[str, Any]) -> None:
    """One JSON line on stdout, flushed: a supervisor reads them as they come."""
    print(json.dumps(doc, separators=(",", ":")), flush=True)


def serve(config: Config, paths: Paths, args: argparse.Namespace) -> int:
    import asyncio  # here: the parser (every command's start) does not pay for it

    from .serve.security import startup_problem
    from .serve.server import ServeSettings, cors_list

    args.token = args.token or os.environ.get(TOKEN_ENV) or None
    problem = startup_problem(args.host, args.token)
    if problem:
        return fail(problem, EXIT_USAGE)
    if not 0 <= args.grace <= 600:
        return fail(
            f"--grace {args.grace:g} is out of range; give 0 to 600 seconds (default {GRACE_S}).", EXIT_USAGE
        )
    if not 0 <= args.port <= 65535:
        return fail(
            f"--port {args.port} is not a TCP port; give one from 1 to 65535 (default 11435).", EXIT_USAGE
        )
    try:
        sock = bind(args.host, args.port)
    except socket.gaierror as err:
        return fail(
            f"cannot listen on {args.host}: {err.strerror or err}; give --host an address of this machine.",
            EXIT_USAGE,
        )
    except OSError as err:
        return fail(
            f"cannot listen on {args.host}:{args.port} ({err.strerror or err}); is another server on that"
            " port? Pick another with --port.",
            EXIT_USAGE,
        )
    settings = ServeSettings(
        host=args.host,
        port=sock.getsockname()[1],
        token=args.token,
        cors_origins=cors_list(args.cors),
        allowed_hosts=tuple(args.allow_host),
    )
    as_json = bool(getattr(args, "json", False))
    return asyncio.run(_serve(config, paths, settings, sock, as_json=as_json, grace_s=args.grace))


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say they are TCP;
    # without it every small write of a kept-alive connection waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


async def _serve(
    config: Config,
    paths: Paths,
    settings: Any,
    sock: socket.socket,
    *,
    as_json: bool = False,
    grace_s: float = GRACE_S,
) -> int:
    """``as_json``: the ready line and the lifecycle events (stopping, cancelling, stopped) as JSON lines."""
    import asyncio

    import uvicorn  # only here: the rest of the CLI never pays for it

    from .engine import build_engine
    from .serve.server import build_app

    loop = asyncio.get_running_loop()

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # Stop without re-raising the signal afterwards (uvicorn's default): Ctrl+C is a clean exit 0.
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            else:
                if not self.should_exit:
                    loop.call_soon_threadsafe(stopping, sig)
                    loop.call_soon_threadsafe(loop.call_later, grace_s, stop_answers)
                self.should_exit = True

    def stopping(sig: int) -> None:
        # Printed from the loop, not from the signal handler (a print interrupted by a print can raise).
        if as_json:
            in_flight = app.state.traffic.in_flight
            emit_line({"event": "stopping", "signal": signal.Signals(sig).name, "in_flight": in_flight})

    def stop_answers() -> None:
        # Well before uvicorn's own deadline cancels the tasks (cutting streams mid-chunk and logging each
        # as a traceback): the engine stops each answer, records it, and its stream ends with an error.
        if as_json and app.state.gateway.running:
            emit_line({"event": "cancelling", "in_flight": len(app.state.gateway.running)})
        app.state.gateway.stop_all()

    engine = await build_engine(config, paths).start()
    try:
        app = build_app(engine, settings)
        uv_config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="on",
            # In-flight answers get grace_s to finish after Ctrl+C, then stop_answers ends them; this is
            # only the backstop for a task that still does not end.
            timeout_graceful_shutdown=grace_s + 5,
            access_log=False,
            # Nothing here reads the client's address, and a loopback server has no proxy in front whose
            # X-Forwarded-For it should believe: one ASGI layer less per request.
            proxy_headers=False,
        )
        server = Server(uv_config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if server.started and as_json:
            models = len(engine.registry.models)
            emit_line(ready_doc(settings.host, settings.port, settings.token, models))
        elif server.started:
            print(ready_line(settings.host, settings.port), flush=True)
            print("Ctrl+C stops.", file=sys.stderr, flush=True)
        await task
    finally:
        await engine.close()
        sock.close()
    if as_json:
        emit_line({"event": "stopped", "served": app.state.traffic.served})
    return EXIT_OK
