"""Run a module as ``__main__`` on a chosen event loop, and record which event loop and which protocol class
actually serve its first accepted connection (for bench.serve_overhead: a server's stack is verified,
not assumed from what is installed).

`jarvis serve` starts its own loop with ``asyncio.run``, so uvicorn's ``loop="auto"`` (which picks uvloop
when installed) never applies to it; running it under ``--loop uvloop`` here shows what uvloop would give
without changing jarvis. The loop is a subclass of the real one whose ``create_server`` wraps the protocol
factory: one extra Python call per accepted connection, none per request on a kept-alive connection.

Run: python -m bench.stack_main --loop {asyncio,uvloop} --report FILE -m MODULE [ARGS...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import runpy
import sys
from pathlib import Path
from typing import Any


def class_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def recording_loop(base: type[asyncio.AbstractEventLoop], report: Path) -> type[asyncio.AbstractEventLoop]:
    """``base``, its ``create_server`` writing the loop's and the first protocol's class to ``report``."""

    class RecordingLoop(base):  # type: ignore[valid-type, misc]
        async def create_server(self, protocol_factory: Any, *args: Any, **kwargs: Any) -> Any:
            def factory() -> asyncio.BaseProtocol:
                proto = protocol_factory()
                if not report.exists():
                    # The loop actually running this, not the one asked for.
                    running = type(asyncio.get_running_loop())
                    loop = running.__bases__[0] if running is RecordingLoop else running
                    doc = {
                        "python": sys.executable,
                        "loop": class_name(loop),
                        "http": class_name(type(proto)),
                    }
                    report.write_text(json.dumps(doc))
                return proto

            return await super().create_server(factory, *args, **kwargs)

    return RecordingLoop


def policy_for(loop_class: type[asyncio.AbstractEventLoop]) -> asyncio.AbstractEventLoopPolicy:
    class Policy(asyncio.DefaultEventLoopPolicy):
        def new_event_loop(self) -> asyncio.AbstractEventLoop:
            return loop_class()

    return Policy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--report", type=Path, required=True, help="where the stack is written, as JSON")
    parser.add_argument("-m", dest="module", required=True, help="the module to run as __main__")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            sys.exit(f"uvloop is not installed for {sys.executable}; install it there or use --loop asyncio.")
        base: type[asyncio.AbstractEventLoop] = uvloop.Loop
    else:
        base = asyncio.SelectorEventLoop
    # This process exists only to run the module on this loop: asyncio.run asks the policy for its loop.
    asyncio.set_event_loop_policy(policy_for(recording_loop(base, args.report)))
    sys.argv = [args.module, *args.args]
    runpy.run_module(args.module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
