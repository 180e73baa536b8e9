"""Keys panel (from the Models view): the cloud keys with their source, last use and status; add one
(masked), test one, remove one. The same store and rules as `jarvis keys`."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Static

COLUMNS = ("provider", "name", "last 4", "source", "last used", "status")


def engine_keys(engine) -> tuple[Any, Any | None]:
    """The running engine's key sources and rotation (so a change is seen by the next request), or
    fresh sources when no cloud provider is configured."""
    cloud = engine.registry.providers.get("cloud")
    rotation = getattr(cloud, "keys", None)
    if rotation is not None:
        return rotation.sources, rotation
    from ..key_store import key_sources

    return key_sources(engine.config, engine.paths), None


class KeysPanel(ModalScreen[None]):
    DEFAULT_CSS = """
    KeysPanel { align: center middle; }
    KeysPanel > Vertical { width: 96; height: auto; max-height: 90%; border: thick $primary;
                           background: $surface; padding: 0 1; }
    KeysPanel DataTable { height: auto; max-height: 12; }
    KeysPanel Horizontal { height: 3; }
    KeysPanel #key-provider { width: 16; }
    KeysPanel #key-name { width: 16; }
    KeysPanel #key-secret { width: 1fr; }
    KeysPanel #key-passphrase { width: 1fr; }
    KeysPanel #keys-said { height: auto; padding: 0 1; }
    """
    BINDINGS = [("escape", "dismiss(None)", "Close")]

    def __init__(self, engine) -> None:
        super().__init__()
        self.engine = engine
        self.sources, self.rotation = engine_keys(engine)
        self.rows: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                "Cloud API keys: the environment's first, then stored keys in the order added, then the"
                " config file's. A rejected or rate-limited key sits out a while; the next one answers.",
                markup=False,
            )
            yield DataTable(id="keys-table", cursor_type="row", zebra_stripes=True)
            with Horizontal():
                yield Input(placeholder="provider", id="key-provider", value="openai")
                yield Input(placeholder="name (optional)", id="key-name")
                yield Input(placeholder="API key (hidden)", id="key-secret", password=True)
            with Horizontal(id="passphrase-row"):
                yield Input(
                    placeholder="passphrase of the encrypted key file (hidden)",
                    id="key-passphrase",
                    password=True,
                )
            with Horizontal():
                yield Button("Add", id="key-add", variant="primary")
                yield Button("Test", id="key-test")
                yield Button("Remove", id="key-remove", variant="error")
                yield Button("Close", id="keys-close")
            yield Static("", id="keys-said", markup=False)

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.load()

    def on_worker_state_changed(self, event) -> None:
        self.app.worker_changed(event)  # worker messages do not bubble: the app says which one failed

    def say(self, text: str) -> None:
        self.query_one("#keys-said", Static).update(text)

    def _store(self):
        store = self.sources.store
        if store is None:
            from jarvis.providers.keys.store import KeyStoreError

            raise KeyStoreError("JARVIS_KEYS_BACKEND names no store Jarvis knows (auto, keyring, file).")
        passphrase = self.query_one("#key-passphrase", Input).value
        if passphrase:
            store.unlock(passphrase)
        return store

    # -- the list -------------------------------------------------------------
    @work(group="keys", exclusive=True, exit_on_error=False, description="list the keys")
    async def load(self) -> None:
        listing = await asyncio.to_thread(self.sources.listing)
        usage = await self.engine.ledger.key_usage()
        store = self.sources.store
        needs = store is not None and await asyncio.to_thread(lambda: store.needs_passphrase)
        self.query_one("#passphrase-row").display = needs
        self.rows = []
        for row in listing:
            used = usage.get((row["provider"], row["name"]), {})
            status = used.get("last_outcome") or "unused"
            if self.rotation is not None:
                live = self.rotation.state(row["provider"], row["name"])
                status = status if live == "ok" else live
            self.rows.append({**row, "last_used": used.get("last_used"), "status": status})
        table = self.query_one(DataTable)
        table.clear()
        for r in self.rows:
            when = (
                time.strftime("%Y-%m-%d %H:%M", time.localtime(r["last_used"])) if r["last_used"] else "never"
            )
            table.add_row(
                r["provider"],
                r["name"],
                f"…{r['last4']}" if r["last4"] else "-",
                r["source"],
                when,
                r["status"],
                key=f"{r['provider']}/{r['name']}",
            )
        if not self.rows:
            self.say("No keys yet: type a provider, a name if you like, and the key, then Add.")
        warning = self.sources.config_warning()
        if warning:
            self.say(warning)

    def highlighted(self) -> dict[str, Any] | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row < 0:
            return None
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        return next((r for r in self.rows if f"{r['provider']}/{r['name']}" == key), None)

    # -- actions --------------------------------------------------------------
    @on(Button.Pressed, "#key-add")
    @on(Input.Submitted, "#key-secret")
    def add_pressed(self) -> None:
        provider = self.query_one("#key-provider", Input).value.strip()
        name = self.query_one("#key-name", Input).value.strip()
        secret_input = self.query_one("#key-secret", Input)
        secret, secret_input.value = secret_input.value, ""  # not left on screen, even masked
        self.add_key(provider, name, secret)

    @work(group="keys-change", exclusive=True, exit_on_error=False, description="store the key")
    async def add_key(self, provider: str, name: str, secret: str) -> None:
        from jarvis.providers.keys.store import KeyStoreError

        try:
            store = self._store()
            entry = await asyncio.to_thread(
                lambda: store.add(provider, name or store.next_name(provider), secret)
            )
        except KeyStoreError as err:
            self.say(str(err))
            return
        if self.rotation is not None:
            self.rotation.reload(provider)
        where = "the OS keyring" if entry.store == "keyring" else "the encrypted file"
        self.say(f"Stored {entry.provider} key '{entry.name}' (…{entry.last4 or '?'}) in {where}.")
        self.load()

    @on(Button.Pressed, "#key-remove")
    def remove_pressed(self) -> None:
        row = self.highlighted()
        if row is None:
            self.say("Highlight a key in the list first.")
        elif row["source"] in ("env", "config"):
            where = "the environment" if row["source"] == "env" else "the config file"
            self.say(f"That key comes from {where}; remove it there.")
        else:
            self.remove_key(row["provider"], row["name"])

    @work(group="keys-change", exclusive=True, exit_on_error=False, description="remove the key")
    async def remove_key(self, provider: str, name: str) -> None:
        from jarvis.providers.keys.store import KeyStoreError

        try:
            store = self._store()
            await asyncio.to_thread(store.remove, provider, name)
        except KeyStoreError as err:
            self.say(str(err))
            return
        if self.rotation is not None:
            self.rotation.reload(provider)
        self.say(f"Removed {provider} key '{name}'.")
        self.load()

    @on(Button.Pressed, "#key-test")
    def test_pressed(self) -> None:
        row = self.highlighted()
        if row is None:
            self.say("Highlight a key in the list first.")
        else:
            self.test_key(row["provider"], row["name"])

    @work(group="keys-test", exclusive=True, exit_on_error=False, description="test the key")
    async def test_key(self, provider: str, name: str) -> None:
        from jarvis.providers.keys.store import KeyStoreError

        from ..key_checks import check_keys, probe_model

        model = probe_model(self.engine.config, provider)
        if model is None:
            self.say(f"No model to test {provider} keys with: list one under [cloud] models.")
            return
        self.say(f"Testing {provider}/{name} with {model}…")
        try:
            self._store()  # a passphrase typed here unlocks the file for the test too
            keys = await asyncio.to_thread(self.sources.load, provider)
        except KeyStoreError as err:
            self.say(str(err))
            return
        keys = [k for k in keys if k.name == name]
        if not keys:
            self.say(self.sources.problem(provider) or f"The key '{name}' could not be read.")
            return
        [check] = await check_keys(self.engine.config, model, keys, self.sources)
        self.engine.ledger.record_key_use(check.use())
        self.say(f"{provider}/{name}: {check.status} — {check.detail}")
        self.load()

    @on(Button.Pressed, "#keys-close")
    def close(self) -> None:
        self.dismiss(None)
