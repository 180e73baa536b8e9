"""Headless subcommands: each builds what it needs from config, runs, and prints text or one JSON document."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from .cli import EXIT_CONFIG, EXIT_OK, EXIT_USAGE
from .config import ConfigError, load_config
from .paths import resolve_paths


def fail(message: str, code: int) -> int:
    print(f"jarvis: {message}", file=sys.stderr)
    return code


def dispatch(args: argparse.Namespace) -> int:
    paths = resolve_paths()
    try:
        config = load_config(paths.config_file)
    except ConfigError as err:
        return fail(str(err), EXIT_CONFIG)
    if args.command == "models":
        return asyncio.run(models_command(config, args, paths))
    if args.command == "analyze":
        from jarvis.chains.analyzer import TaskAnalyzer

        analysis = (asyncio.run(_assisted_analysis(args.text)) if args.assist
                    else TaskAnalyzer().analyze(args.text))
        if args.json:
            print(json.dumps(analysis.as_json(), indent=2))
        else:
            a = analysis
            print(f"task type:    {a.task_type} (confidence {a.confidence:.2f}; {', '.join(a.reasons) or 'no rule fired'})")
            print(f"language:     {a.language or '-'}")
            print(f"capabilities: {', '.join(a.capabilities) or '-'}")
            print(f"est. tokens:  {a.est_tokens}")
            print(f"method:       {a.method}")
        return EXIT_OK
    from . import engine_commands

    handler = getattr(engine_commands, f"cmd_{args.command}", None)
    if handler is None:
        return fail(f"unknown command {args.command}", EXIT_USAGE)
    return handler(config, paths, args)


async def _assisted_analysis(text: str):
    from jarvis.chains.analyzer import TaskAnalyzer
    from jarvis.providers.embedded import DEFAULT_MODEL_NAME, EmbeddedProvider
    from jarvis.providers.types import Completion, GenerationOptions, Message

    provider = EmbeddedProvider()

    async def ask(prompt: str) -> str:
        async for chunk in provider.stream_chat(DEFAULT_MODEL_NAME, [Message("user", prompt)],
                                                GenerationOptions(max_tokens=8, temperature=0)):
            if isinstance(chunk, Completion):
                return chunk.text
        return ""

    try:
        return await TaskAnalyzer().analyze_with_model(text, ask)
    finally:
        await provider.close()


def _size(n: int | None) -> str:
    if not n:
        return "-"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


async def models_command(config, args, paths) -> int:
    from . import details_cache
    from .compose import build_registry

    registry = build_registry(config)
    providers = list(registry.providers.values())
    cache = details_cache.cache_file(paths.data_dir)
    if not args.refresh:
        details_cache.load_into(providers, cache)
    try:
        discovery = await registry.refresh()
        details_cache.save_from(providers, cache)
    finally:
        await registry.close()
    if args.json:
        doc = {
            "models": [m.as_json() for m in discovery.models],
            "unreachable": [u.as_json() for u in discovery.unreachable],
            "notices": discovery.notices,
        }
        print(json.dumps(doc, indent=2))
        return EXIT_OK
    rows = [("MODEL", "CONTEXT", "SIZE", "CAPABILITIES", "FITS", "STATUS")]
    for m in discovery.models:
        fits = {True: "yes", False: "NO", None: "-"}[m.fits_memory]
        rows.append((m.id, str(m.context_length or "-"), _size(m.info.size_bytes),
                     ",".join(sorted(m.capabilities)), fits, m.status + (" (loaded)" if m.info.loaded else "")))
    print_table(rows)
    if not discovery.models:
        print("No models found.")
    for m in discovery.models:
        if m.fits_memory is False:
            print(f"\n! {m.memory_note}")
    for note in discovery.notices:
        print(f"\n! {note}")
    if discovery.unreachable:
        print("\nNot reachable:")
        for u in discovery.unreachable:
            print(f"  {u.provider} ({u.address}): {u.reason} {u.hint}".rstrip())
    return EXIT_OK


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
