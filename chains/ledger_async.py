"""AsyncLedger: the ledger's methods, typed, run on one dedicated thread so SQLite never blocks the loop."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from .clock import Clock
from .ledger import Ledger

P = ParamSpec("P")
R = TypeVar("R")


def _write(method: Callable[Concatenate[Ledger, P], Any]) -> Callable[Concatenate[AsyncLedger, P], None]:
    """A fire-and-forget write: queued now, written in order with the next batch."""

    @functools.wraps(method)
    def queued(self: AsyncLedger, *args: P.args, **kwargs: P.kwargs) -> None:
        # A tuple, not a closure: a burst of writes then makes fewer objects for the garbage collector.
        self._queue(method, args, kwargs)

    return queued


def _read(
    method: Callable[Concatenate[Ledger, P], R],
) -> Callable[Concatenate[AsyncLedger, P], Awaitable[R]]:
    """An awaited call: queued writes go first, so it sees everything submitted before it."""

    @functools.wraps(method)
    async def awaited(self: AsyncLedger, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self.call_fn(lambda led: method(led, *args, **kwargs))

    return awaited


class _OneTransaction:
    """The ledger's connection while a batch is written: a write's ``with conn:`` is a savepoint (rolled
    back alone when the write fails, as its own transaction was) and its ``commit()`` waits for the
    batch's. Everything else is the connection itself."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def __enter__(self) -> _OneTransaction:
        self._conn.execute("SAVEPOINT ledger_write")
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: Any) -> None:
        if self._conn.in_transaction:  # an error may have ended the transaction, savepoints and all
            if kind is not None:
                self._conn.execute("ROLLBACK TO ledger_write")
            self._conn.execute("RELEASE ledger_write")

    def commit(self) -> None:
        """The batch commits once, at its end."""


class AsyncLedger:
    """The ledger for the event loop: writes are fire-and-forget, reads are awaited.

    Writes queue on the loop and reach the ledger thread as one batch ``coalesce_s`` later, so a
    burst (run + step + request rows as a request goes out) wakes the thread once instead of
    competing with the stream for the GIL three times. Reads, ``call_fn`` and ``flush`` send
    queued writes first, so order is always the order of submission.
    """

    def __init__(self, path: str | Path, *, coalesce_s: float = 0.005, clock: Clock | None = None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jarvis-ledger")
        self._ledger: Ledger = self._pool.submit(lambda: Ledger(path, clock=clock)).result()
        self.coalesce_s = coalesce_s
        self._pending: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []
        self._drain_handle: asyncio.TimerHandle | None = None
        self._closed = False
        self.errors: list[BaseException] = []

    # -- writes (fire-and-forget) ------------------------------------------
    start_run = _write(Ledger.start_run)
    finish_run = _write(Ledger.finish_run)
    start_step = _write(Ledger.start_step)
    checkpoint_step = _write(Ledger.checkpoint_step)
    finish_step = _write(Ledger.finish_step)
    record_request = _write(Ledger.record_request)
    record_requests = _write(Ledger.record_requests)
    add_event = _write(Ledger.add_event)
    add_votes = _write(Ledger.add_votes)
    cache_put = _write(Ledger.cache_put)
    set_budget = _write(Ledger.set_budget)
    set_thread = _write(Ledger.set_thread)
    add_run_files = _write(Ledger.add_run_files)
    record_key_use = _write(Ledger.record_key_use)

    # -- reads (awaited) ---------------------------------------------------
    recover_interrupted = _read(Ledger.recover_interrupted)
    run = _read(Ledger.run)
    history = _read(Ledger.history)
    delete_run = _read(Ledger.delete_run)
    query = _read(Ledger.query)
    cache_get = _read(Ledger.cache_get)
    cache_stats = _read(Ledger.cache_stats)
    budgets = _read(Ledger.budgets)
    spent_for_run = _read(Ledger.spent_for_run)
    spent_since = _read(Ledger.spent_since)
    add_rating = _read(Ledger.add_rating)
    thread_turn = _read(Ledger.thread_turn)
    lineage = _read(Ledger.lineage)
    thread_turns = _read(Ledger.thread_turns)
    latest_run = _read(Ledger.latest_run)
    run_files = _read(Ledger.run_files)
    key_usage = _read(Ledger.key_usage)
    runs_using_model = _read(Ledger.runs_using_model)

    # -- anything else, as a function of the ledger -------------------------
    def submit_fn(self, fn: Callable[[Ledger], Any]) -> None:
        """Fire-and-forget ``fn(ledger)`` on the ledger thread."""
        self._queue(fn, (), {})

    def _queue(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._pending.append((fn, args, kwargs))
        if self._drain_handle is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (a plain script): write now
                self._drain()
                return
            self._drain_handle = loop.call_later(self.coalesce_s, self._drain)

    async def call_fn(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Run ``fn(ledger, *args, **kwargs)`` on the ledger thread (the performance monitor, feedback)."""
        self._drain()
        return await asyncio.wrap_future(self._pool.submit(fn, self._ledger, *args, **kwargs))

    def _drain(self) -> None:
        if self._drain_handle is not None:
            self._drain_handle.cancel()
            self._drain_handle = None
        batch, self._pending = self._pending, []
        if batch:
            self._pool.submit(self._run_batch, batch)

    def _run_batch(self, batch: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]) -> None:
        # One transaction for the whole batch (each write's own becomes a savepoint in it): a served
        # request's seven rows then cost one commit instead of seven, and a kill leaves all or none.
        db = self._ledger.db
        conn = db.conn
        db.conn = _OneTransaction(conn)  # type: ignore[assignment]
        try:
            conn.execute("BEGIN")
            for fn, args, kwargs in batch:
                try:
                    fn(self._ledger, *args, **kwargs)
                except Exception as err:  # one bad write must not lose the rest of the batch
                    self.errors.append(err)
        finally:
            db.conn = conn
            try:
                if conn.in_transaction:
                    conn.execute("COMMIT")
            except Exception as err:
                self.errors.append(err)
                conn.rollback()

    async def flush(self) -> None:
        """Wait until everything submitted so far is written."""
        self._drain()
        await asyncio.wrap_future(self._pool.submit(lambda: None))

    def close(self) -> None:
        """Write what is queued and close; closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        self._drain()
        self._pool.submit(self._ledger.close).result()
        self._pool.shutdown(wait=True)
