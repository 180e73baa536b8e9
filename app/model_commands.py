"""`jarvis models pull|load|unload|ps|rm|cp|add-gguf`: the local model lifecycle from the command line.

`jarvis models` alone still lists the models (app/inspect_commands.py); these are its subcommands.
Progress goes to stderr, the result to stdout (one JSON document with --json). Every action names the
host it acted on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from .exit_codes import EXIT_CANCELLED, EXIT_FAILED, EXIT_NO_MODEL, EXIT_OK, EXIT_USAGE
from .output import fail, print_table


def add_subcommands(models: argparse.ArgumentParser) -> None:
    sub = models.add_subparsers(
        dest="models_action",
        metavar="ACTION",
        title="actions",
        description="with no action, `jarvis models` lists every model the providers offer",
    )

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        # SUPPRESS: `jarvis models --json ps` keeps the flag given before the action.
        p.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON document"
        )
        return p

    p = add("pull", "download an Ollama model (e.g. qwen2.5-coder:7b), with progress on stderr")
    p.add_argument("name", help="the model name and tag, as on ollama.com/library")
    p.add_argument("--host", help="the Ollama host (its provider name or URL); default: the first one")
    p.set_defaults(handler=cmd_pull)
    p = add("load", "load a model into memory ahead of use (asks first when it would not fit)")
    p.add_argument("id", help="the model id, e.g. ollama/qwen2.5-coder:7b")
    p.add_argument("--yes", action="store_true", help="load even when it would not fit, without asking")
    p.set_defaults(handler=cmd_load)
    p = add("unload", "free the memory a loaded model holds")
    p.add_argument("id", help="the model id")
    p.set_defaults(handler=cmd_unload)
    p = add("ps", "list the models loaded now, with their memory, on every local backend")
    p.set_defaults(handler=cmd_ps)
    p = add("rm", "delete a model from its Ollama host (asks first)")
    p.add_argument("id", help="the model id")
    p.add_argument("--yes", action="store_true", help="do not ask")
    p.set_defaults(handler=cmd_rm)
    p = add("cp", "copy (tag) an Ollama model under another name on the same host")
    p.add_argument("id", help="the model id")
    p.add_argument("new_name", help="the new name, e.g. my-coder:latest")
    p.set_defaults(handler=cmd_cp)
    p = add("add-gguf", "offer a GGUF file as an embedded model, after reading its header")
    p.add_argument("path", help="the .gguf file")
    p.add_argument("--name", help="the model's name (default: from the file's header)")
    p.set_defaults(handler=cmd_add_gguf)


# -- helpers -----------------------------------------------------------------
def _size(n: float | None) -> str:
    if not n:
        return "-"
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def _bytes(n: float) -> str:
    """Progress figures: "0.0 MB" rather than "-" for nothing yet."""
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _ask(question: str) -> bool:
    """y/N on the terminal; False when there is no terminal to ask on."""
    if not sys.stdin.isatty():
        return False
    try:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def _lifecycle(config):
    from .compose import build_lifecycle, build_registry

    registry = build_registry(config)
    return registry, build_lifecycle(config, registry)


def _run(coro) -> int:
    """Run a command's coroutine; ctrl+c cancels it (its finally blocks run) and exits 130."""
    import asyncio  # here, not at the top: `jarvis --help` and the other commands do not pay ~30 ms for it

    try:
        return asyncio.run(coro)
    except KeyboardInterrupt:
        return fail("cancelled.", EXIT_CANCELLED)


def _in_process(registry, model_id: str, action: str) -> int | None:
    """An embedded model lives in the process that runs it: a command that ends frees it anyway."""
    provider = registry.providers.get(model_id.partition("/")[0])
    if provider is None or provider.kind != "embedded":
        return None
    return fail(
        f"{model_id} runs inside the process that uses it, so `jarvis models {action}` would change"
        f" nothing once the command ends; {action} it in the workbench's Models view"
        f" ({action[0]} on the model).",
        EXIT_USAGE,
    )


def _error_code(err: Exception) -> int:
    from jarvis.providers.errors import ModelNotFound

    return EXIT_NO_MODEL if isinstance(err, ModelNotFound) else EXIT_FAILED


# -- pull --------------------------------------------------------------------
class PullMeter:
    """Progress on stderr: one rewritten line on a terminal, a line per 10 % otherwise; with the rate
    over the last seconds and the time left."""

    def __init__(self, stream=None, clock=time.monotonic) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.clock = clock
        self.samples: list[tuple[float, int]] = []
        self.last_decile = -1
        self.status = ""

    def rate(self) -> float | None:
        if len(self.samples) < 2:
            return None
        (t0, b0), (t1, b1) = self.samples[0], self.samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else None

    def line(self, progress) -> str:
        if progress.total:
            rate = self.rate()
            eta = ""
            if rate:
                eta = (
                    f"  {_size(rate)}/s  ETA {_duration((progress.total - (progress.completed or 0)) / rate)}"
                )
            return (
                f"{progress.status}  {progress.percent:5.1f} %  "
                f"{_bytes(progress.completed or 0)} / {_bytes(progress.total)}{eta}"
            )
        return progress.status

    def update(self, progress) -> None:
        now = self.clock()
        if progress.total:
            self.samples.append((now, progress.completed or 0))
            self.samples = [s for s in self.samples if now - s[0] <= 5.0]
        text = self.line(progress)
        if self.tty:
            self.stream.write("\r\x1b[2K" + text)
            self.stream.flush()
            return
        decile = int((progress.percent or 0) // 10) if progress.total else -1
        if progress.status != self.status or decile != self.last_decile:
            print(text, file=self.stream, flush=True)
        self.status, self.last_decile = progress.status, decile

    def end(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def cmd_pull(config, paths, args) -> int:
    return _run(_pull(config, args))


async def _pull(config, args) -> int:
    import asyncio

    from jarvis.providers.errors import ProviderError
    from jarvis.providers.lifecycle import host_label

    registry, lifecycle = _lifecycle(config)
    meter = PullMeter()
    fit = None
    provider = None
    try:
        try:
            provider, progress = lifecycle.pull(args.name, args.host)
        except ProviderError as err:
            return fail(str(err), _error_code(err))
        where = host_label(provider)
        print(f"Pulling {args.name} to {where}.", file=sys.stderr)
        last = None
        try:
            async for step in progress:
                if fit is None and step.total and step.digest:
                    # The first layer's size is the first number Ollama gives: judge the fit with it.
                    fit = await lifecycle.fit(f"{provider.name}/{args.name}", size_bytes=step.total)
                    if fit is not None:
                        print(("" if fit.fits else "! ") + fit.sentence, file=sys.stderr)
                meter.update(step)
                last = step
        except ProviderError as err:
            meter.end()
            return fail(str(err), EXIT_FAILED)
        except asyncio.CancelledError:  # ctrl+c: closing the stream makes Ollama stop downloading
            meter.end()
            return fail(
                f"the pull of {args.name} on {where} was cancelled; Ollama keeps what it downloaded and"
                " resumes from it next time. Nothing was registered.",
                EXIT_CANCELLED,
            )
        meter.end()
        doc: dict[str, Any] = {
            "model": f"{provider.name}/{args.name}",
            "host": provider.address,
            "status": last.status if last else "success",
            "total_bytes": next((s[1] for s in meter.samples[-1:]), None),
            "fit": fit.as_json() if fit else None,
        }
        if args.json:
            print(json.dumps(doc, indent=2))
        else:
            print(f"Pulled {args.name} to {where}.")
        return EXIT_OK
    finally:
        await registry.close()


# -- load / unload / ps / rm / cp -------------------------------------------
def cmd_load(config, paths, args) -> int:
    return _run(_load(config, args))


async def _load(config, args) -> int:
    from jarvis.providers.errors import ProviderError

    registry, lifecycle = _lifecycle(config)
    try:
        if (refused := _in_process(registry, args.id, "load")) is not None:
            return refused
        await registry.refresh()
        fit = await lifecycle.fit(args.id)
        if fit is not None:
            print(("" if fit.fits else "! ") + fit.sentence, file=sys.stderr)
            if (
                not fit.fits
                and not args.yes
                and not _ask(f"{args.id} may not fit in memory. Load it anyway?")
            ):
                return fail(
                    f"{args.id} was not loaded: it would not fit (add --yes to load it anyway).",
                    EXIT_FAILED,
                )
        try:
            result = await lifecycle.load(args.id)
        except ProviderError as err:
            return fail(str(err), _error_code(err))
        if args.json:
            print(json.dumps({**result.as_json(), "fit": fit.as_json() if fit else None}, indent=2))
        else:
            print(result.sentence)
        return EXIT_OK
    finally:
        await registry.close()


def cmd_unload(config, paths, args) -> int:
    return _run(_simple(config, args, "unload"))


def cmd_cp(config, paths, args) -> int:
    return _run(_simple(config, args, "copy"))


async def _simple(config, args, action: str) -> int:
    from jarvis.providers.errors import ProviderError

    registry, lifecycle = _lifecycle(config)
    try:
        if action == "unload" and (refused := _in_process(registry, args.id, "unload")) is not None:
            return refused
        try:
            if action == "copy":
                result = await lifecycle.copy(args.id, args.new_name)
            else:
                result = await lifecycle.unload(args.id)
        except ProviderError as err:
            return fail(str(err), _error_code(err))
        print(json.dumps(result.as_json(), indent=2) if args.json else result.sentence)
        return EXIT_OK
    finally:
        await registry.close()


def cmd_ps(config, paths, args) -> int:
    return _run(_ps(config, args))


async def _ps(config, args) -> int:
    registry, lifecycle = _lifecycle(config)
    try:
        loaded, problems = await lifecycle.loaded()
    finally:
        await registry.close()
    if args.json:
        print(json.dumps({"loaded": [m.as_json() for m in loaded], "unreachable": problems}, indent=2))
        return EXIT_OK
    rows = [("MODEL", "HOST", "MEMORY", "ON GPU", "CONTEXT", "UNTIL", "PINNED")]
    for m in loaded:
        until = "-"
        if m.expires_at is not None:
            until = "forever" if m.expires_at.year > 2200 else m.expires_at.astimezone().strftime("%H:%M:%S")
        rows.append(
            (
                m.id,
                m.host,
                _size(m.size_bytes),
                _size(m.size_vram) if m.size_vram is not None else "-",
                str(m.context_length or "-"),
                until,
                "yes" if m.pinned else "",
            )
        )
    if loaded:
        print_table(rows)
    else:
        print("No model is loaded.")
    for p in problems:
        print(f"! {p}")
    return EXIT_OK


def cmd_rm(config, paths, args) -> int:
    from jarvis.chains.ledger import Ledger

    ledger = Ledger(paths.database)
    try:
        ledger.recover_interrupted()
        busy = ledger.runs_using_model(args.id)
    finally:
        ledger.close()
    if busy:
        return fail(
            f"{args.id} is in use by a running run ({', '.join(busy)}); wait for it to finish or cancel it,"
            " then delete the model.",
            EXIT_FAILED,
        )
    if not args.yes and not _ask(f"Delete {args.id}? Its files are removed from the host."):
        how = "" if sys.stdin.isatty() else " (add --yes to delete without asking)"
        return fail(f"{args.id} was not deleted{how}.", EXIT_USAGE)
    return _run(_rm(config, args))


async def _rm(config, args) -> int:
    from jarvis.providers.errors import ProviderError

    registry, lifecycle = _lifecycle(config)
    try:
        try:
            result = await lifecycle.delete(args.id)
        except ProviderError as err:
            return fail(str(err), _error_code(err))
        print(json.dumps(result.as_json(), indent=2) if args.json else result.sentence)
        return EXIT_OK
    finally:
        await registry.close()


# -- add-gguf ----------------------------------------------------------------
def cmd_add_gguf(config, paths, args) -> int:
    from pathlib import Path

    from jarvis.providers.errors import ProviderError
    from jarvis.providers.lifecycle_embedded import describe_gguf

    from .gguf_register import GGUFRegistrationError, register_gguf, suggested_name

    path = Path(args.path).expanduser().resolve()
    try:
        header = describe_gguf(path)
    except ProviderError as err:
        return fail(str(err), EXIT_USAGE)
    name = args.name or suggested_name(path, header.get("name"))
    try:
        register_gguf(paths.config_file, name, path)
    except GGUFRegistrationError as err:
        return fail(str(err), EXIT_USAGE)
    if args.json:
        print(json.dumps({"model": f"embedded/{name}", "config": str(paths.config_file), **header}, indent=2))
    else:
        print(
            f"Added embedded/{name}: {header.get('architecture') or '?'}, {header.get('parameters') or '?'}"
            f" parameters, {header.get('quantization') or '?'}, {header.get('context_length') or '?'}-token"
            f" context, {_size(header.get('size_bytes'))}; saved in {paths.config_file}."
        )
    return EXIT_OK
