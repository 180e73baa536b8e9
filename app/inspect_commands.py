"""Commands that look without running a chain: `models` (what the providers offer) and `analyze` (a task)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from . import model_commands
from .exit_codes import EXIT_OK, EXIT_USAGE
from .output import fail, print_table
from .text_input import InputError, text_argument


def register(add: Callable[[str, str], argparse.ArgumentParser]) -> None:
    p = add("models", "list every model the configured providers offer")
    p.add_argument(
        "--refresh", action="store_true", help="re-read every model's details instead of the cached ones"
    )
    p.set_defaults(handler=cmd_models)
    model_commands.add_subcommands(p)  # pull, load, unload, ps, rm, cp

    p = add("analyze", "classify a task: type, language, capabilities, size")
    p.add_argument("text", help="the task, or - to read it from standard input")
    p.add_argument(
        "--assist",
        action="store_true",
        help="also ask the embedded model; the rules decide when it answers nonsense",
    )
    p.set_defaults(handler=cmd_analyze)


def cmd_models(config, paths, args) -> int:
    import asyncio  # here, like the engine's modules: `jarvis --help` stays quick

    return asyncio.run(_models(config, args, paths))


def cmd_analyze(config, paths, args) -> int:
    import asyncio

    from jarvis.chains.analyzer import TaskAnalyzer

    try:
        text = text_argument(args.text, "text")
    except InputError as err:
        return fail(str(err), EXIT_USAGE)
    analysis = asyncio.run(_assisted_analysis(text)) if args.assist else TaskAnalyzer().analyze(text)
    if args.json:
        print(json.dumps(analysis.as_json(), indent=2))
    else:
        a = analysis
        reasons = ", ".join(a.reasons) or "no rule fired"
        print(f"task type:    {a.task_type} (confidence {a.confidence:.2f}; {reasons})")
        print(f"language:     {a.language or '-'}")
        print(f"capabilities: {', '.join(a.capabilities) or '-'}")
        print(f"est. tokens:  {a.est_tokens}")
        print(f"method:       {a.method}")
    return EXIT_OK


async def _assisted_analysis(text: str):
    from jarvis.chains.analyzer import TaskAnalyzer
    from jarvis.providers.embedded import DEFAULT_MODEL_NAME, EmbeddedProvider
    from jarvis.providers.types import Completion, GenerationOptions, Message

    provider = EmbeddedProvider()

    async def ask(prompt: str) -> str:
        async for chunk in provider.stream_chat(
            DEFAULT_MODEL_NAME, [Message("user", prompt)], GenerationOptions(max_tokens=8, temperature=0)
        ):
            if isinstance(chunk, Completion):
                return chunk.text
        return ""

    try:
        return await TaskAnalyzer().analyze_with_model(text, ask)
    finally:
        await provider.close()


def _size(n: float | None) -> str:
    if not n:
        return "-"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


async def _models(config, args, paths) -> int:
    from . import details_cache
    from .compose import build_registry

    registry = build_registry(config)
    providers = list(registry.providers.values())
    cache = paths.model_details
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
        status = m.status + (" (loaded)" if m.info.loaded else "")
        rows.append(
            (
                m.id,
                str(m.context_length or "-"),
                _size(m.info.size_bytes),
                ",".join(sorted(m.capabilities)),
                fits,
                status,
            )
        )
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
