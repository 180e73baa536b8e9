"""`jarvis keys`: add, list, test and remove cloud API keys (kept in the OS keyring or an encrypted file)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from .exit_codes import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, EXIT_USAGE
from .output import emit_json, fail, print_table

STATUS_WORDS = {"ok": "ok", "rejected": "rejected", "rate_limited": "rate limited", "failed": "failed"}


def register(add: Callable[[str, str], argparse.ArgumentParser]) -> None:
    p = add("keys", "cloud API keys: several per provider, rotated on 429 and rejection, never in clear")
    ksub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = ksub.add_parser("add", help="store a key (typed without echo, or read from standard input)")
    a.add_argument("provider", help="the model id's prefix: openai, anthropic, gemini, openrouter...")
    a.add_argument("--name", help="what to call this key (default: 'default', then key2, key3...)")
    ksub.add_parser("list", help="every key: provider, name, last 4 characters, source, last used, status")
    t = ksub.add_parser("test", help="one cheap authenticated call per key: ok, rejected or unreachable")
    t.add_argument("provider")
    t.add_argument("--name", help="test only this key")
    t.add_argument("--model", help="the model to ask (default: your first cloud model of that provider)")
    r = ksub.add_parser("remove", help="delete a stored key")
    r.add_argument("provider")
    r.add_argument("name", nargs="?", help="the key's name (as `keys list` shows it)")
    r.add_argument("--name", dest="name_option", metavar="NAME", help="the same, as `keys add` takes it")
    for sp in ksub.choices.values():
        sp.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=cmd_keys)


def cmd_keys(config, paths, args) -> int:
    from jarvis.providers.keys.store import KeyStoreError

    try:
        return {"add": _add, "list": _list, "test": _test, "remove": _remove}[args.action](
            config, paths, args
        )
    except KeyStoreError as err:
        return fail(str(err), EXIT_CONFIG)


def _read_key(provider: str) -> str:
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass(f"{provider} API key (not shown): ")
    return sys.stdin.read()


def _add(config, paths, args) -> int:
    from jarvis.providers.keys.types import KEY_ENV

    from .key_store import key_store

    store = key_store(paths, ask=True)
    name = args.name or store.next_name(args.provider)
    entry = store.add(args.provider, name, _read_key(args.provider))
    where = "the OS keyring" if entry.store == "keyring" else f"the encrypted file {paths.keys_file}"
    if args.json:
        emit_json({"added": entry.as_json()})
        return EXIT_OK
    print(f"Stored {entry.provider} key '{entry.name}' (…{entry.last4 or '?'}) in {where}.")
    if entry.provider not in KEY_ENV and not any(
        m.startswith(entry.provider + "/") for m in config.cloud.models
    ):
        # A typo ("opeanai") would otherwise sit unused: keys are found by the model id's prefix.
        print(
            f"jarvis: no [cloud] model starts with '{entry.provider}/'; the key is used for model ids with"
            " that prefix, so check its spelling (e.g. openai, anthropic, gemini, openrouter).",
            file=sys.stderr,
        )
    var = KEY_ENV.get(entry.provider)
    if var and os.environ.get(var):
        print(f"{var} is set too: it is tried first, then the stored keys in the order they were added.")
    print(f"Check it with `jarvis keys test {entry.provider} --name {entry.name}`.")
    return EXIT_OK


def _usage(paths) -> dict[tuple[str, str], dict[str, Any]]:
    if not paths.database.exists():
        return {}
    from .record_commands import open_ledger

    return open_ledger(paths).key_usage()


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else "never"


def _list(config, paths, args) -> int:
    from .key_store import key_sources, key_store

    key_store(paths)  # a JARVIS_KEYS_BACKEND it does not know is a sentence here, not "No keys."
    sources = key_sources(config, paths)
    usage = _usage(paths)
    rows = []
    for row in sources.listing():
        used = usage.get((row["provider"], row["name"]), {})
        rows.append(
            {
                **row,
                "last_used": used.get("last_used"),
                "status": used.get("last_outcome") or "unused",
                "requests": used.get("requests", 0),
                "tokens": used.get("tokens", 0),
                "cost_usd": used.get("cost_usd", 0.0),
            }
        )
    warning = sources.config_warning()
    store = sources.store
    if args.json:
        emit_json(
            {
                "keys": rows,
                "store": store.kind if store is not None else None,
                "warnings": [warning] if warning else [],
            }
        )
        return EXIT_OK
    if warning:
        print(f"jarvis: {warning}", file=sys.stderr)
    if not rows:
        print("No keys. Add one with `jarvis keys add openai` (or set OPENAI_API_KEY).")
        return EXIT_OK
    table = [("provider", "name", "last 4", "source", "last used", "status", "requests")]
    for r in rows:
        status = STATUS_WORDS.get(r["status"], r["status"])
        last4 = f"…{r['last4']}" if r["last4"] else "-"
        table.append(
            (r["provider"], r["name"], last4, r["source"], _when(r["last_used"]), status, str(r["requests"]))
        )
    print_table(table)
    return EXIT_OK


def _test(config, paths, args) -> int:
    import asyncio

    from .key_checks import check_keys, probe_model
    from .key_store import key_sources

    model = probe_model(config, args.provider, args.model)
    if model is None:
        return fail(
            f"no model to test {args.provider} keys with; pass --model {args.provider}/MODEL"
            " or list one under [cloud] models.",
            EXIT_USAGE,
        )
    sources = key_sources(config, paths, ask=True)
    keys = [k for k in sources.load(args.provider) if args.name in (None, k.name)]
    if not keys:
        problem = sources.problem(args.provider)
        which = f"named '{args.name}' " if args.name else ""
        if problem:
            return fail(problem, EXIT_CONFIG)
        return fail(f"no {args.provider} key {which}to test; add one with `jarvis keys add`.", EXIT_USAGE)
    checks = asyncio.run(check_keys(config, model, keys, sources))
    from .record_commands import open_ledger

    ledger = open_ledger(paths)
    for check in checks:
        ledger.record_key_use(check.use())
    if args.json:
        emit_json({"results": [c.as_json() for c in checks]})
    else:
        for c in checks:
            print(f"{c.key.provider}/{c.key.name} ({c.key.source}): {c.status} — {c.detail}")
    return EXIT_OK if all(c.status == "ok" for c in checks) else EXIT_FAILED


def _remove(config, paths, args) -> int:
    from jarvis.providers.keys.store import RESERVED
    from jarvis.providers.keys.types import KEY_ENV

    from .key_store import key_store

    args.name = args.name or args.name_option
    if not args.name:
        return fail(
            f"say which {args.provider} key to remove: `jarvis keys remove {args.provider} NAME`.", EXIT_USAGE
        )
    if args.name in RESERVED:
        where = (
            f"the environment variable {KEY_ENV.get(args.provider, 'for it')}; unset it"
            if args.name == "env"
            else f"your config file ({paths.config_file}); delete it from [cloud.api_keys] there"
        )
        return fail(f"the key '{args.name}' comes from {where}.", EXIT_USAGE)
    entry = key_store(paths, ask=True).remove(args.provider, args.name)
    if args.json:
        emit_json({"removed": entry.as_json()})
    else:
        print(f"Removed {entry.provider} key '{entry.name}'.")
    return EXIT_OK
