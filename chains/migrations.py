"""Ordered, named schema migrations for the ledger; each runs once, recorded in _migrations."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlite_utils import Database


def m001_initial(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY, kind TEXT NOT NULL, task TEXT NOT NULL, chain TEXT,
            task_type TEXT, language TEXT, status TEXT NOT NULL, started_at REAL NOT NULL,
            finished_at REAL, pid INTEGER, error TEXT, error_kind TEXT, result_json TEXT,
            cost_usd REAL DEFAULT 0, options_json TEXT, analysis_json TEXT
        );
        CREATE INDEX runs_started ON runs(started_at);
        CREATE TABLE steps (
            id TEXT PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL, role TEXT NOT NULL, round INTEGER DEFAULT 0, model_id TEXT, provider TEXT,
            status TEXT NOT NULL, started_at REAL NOT NULL, finished_at REAL, output TEXT DEFAULT '',
            reason TEXT, prompt_tokens INTEGER, completion_tokens INTEGER, ttft_s REAL, tokens_per_s REAL,
            total_s REAL, finish_reason TEXT, notices_json TEXT, error TEXT
        );
        CREATE INDEX steps_run ON steps(run_id, idx);
        CREATE TABLE requests (
            id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, step_id TEXT, model_id TEXT NOT NULL,
            provider TEXT, task_type TEXT, role TEXT, prompt_tokens INTEGER, completion_tokens INTEGER,
            ttft_s REAL, tokens_per_s REAL, latency_s REAL, cost_usd REAL DEFAULT 0, status TEXT NOT NULL,
            error_kind TEXT, error TEXT, partial_text TEXT, cached INTEGER DEFAULT 0, created_at REAL NOT NULL
        );
        CREATE INDEX requests_model ON requests(model_id, task_type, created_at);
        CREATE INDEX requests_time ON requests(created_at);
        CREATE TABLE ratings (
            id INTEGER PRIMARY KEY AUTOINCREMENT, target_kind TEXT NOT NULL, target_id TEXT NOT NULL,
            run_id TEXT, model_id TEXT, task_type TEXT, role TEXT, score INTEGER NOT NULL, comment TEXT,
            correction TEXT, created_at REAL NOT NULL
        );
        CREATE INDEX ratings_model ON ratings(model_id, task_type);
        CREATE TABLE votes (
            id INTEGER PRIMARY KEY AUTOINCREMENT, compare_id TEXT NOT NULL, model_a TEXT NOT NULL,
            model_b TEXT NOT NULL, outcome TEXT NOT NULL, task_type TEXT, created_at REAL NOT NULL
        );
        CREATE INDEX votes_task ON votes(task_type);
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, type TEXT NOT NULL, payload_json TEXT,
            created_at REAL NOT NULL
        );
        CREATE TABLE cache (
            key TEXT PRIMARY KEY, model_id TEXT NOT NULL, response_json TEXT NOT NULL,
            created_at REAL NOT NULL, hits INTEGER DEFAULT 0, last_hit_at REAL
        );
        CREATE TABLE budgets (period TEXT PRIMARY KEY, limit_usd REAL NOT NULL);
        CREATE TABLE score_resets (model_id TEXT NOT NULL, task_type TEXT NOT NULL, reset_at REAL NOT NULL,
                                   PRIMARY KEY (model_id, task_type));
        """
    )


def m002_attempts_and_answers(db: Database) -> None:
    """A request row is one attempt of a step (now with its start); a step says if it wrote the answer."""
    db.executescript(
        """
        ALTER TABLE requests ADD COLUMN started_at REAL;
        CREATE INDEX requests_step ON requests(step_id);
        ALTER TABLE steps ADD COLUMN answer INTEGER DEFAULT 0;
        -- Before roles said what they produce, a run's rating went to the shipped chains' 'executor'.
        UPDATE steps SET answer = 1 WHERE role = 'executor';
        """
    )


def m003_eval_runs(db: Database) -> None:
    """`jarvis eval`: an eval run, and one row per task x model x chain linked to the task's normal run."""
    db.executescript(
        """
        CREATE TABLE eval_runs (
            id TEXT PRIMARY KEY, suite TEXT NOT NULL, source TEXT, models_json TEXT, chains_json TEXT,
            task_count INTEGER, tier TEXT, limits_json TEXT, status TEXT NOT NULL, started_at REAL NOT NULL,
            finished_at REAL, pid INTEGER
        );
        CREATE TABLE eval_results (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            eval_id TEXT NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
            task_id TEXT NOT NULL, model_id TEXT NOT NULL, chain TEXT NOT NULL, run_id TEXT, task_type TEXT,
            passed INTEGER NOT NULL, reason TEXT, checks_passed INTEGER, checks_total INTEGER, tokens INTEGER,
            seconds REAL, check_seconds REAL, tier TEXT, created_at REAL NOT NULL
        );
        CREATE INDEX eval_results_eval ON eval_results(eval_id);
        -- The performance scores read a pass as a measured success per model x task type.
        CREATE INDEX eval_results_model ON eval_results(model_id, task_type, created_at);
        """
    )


def m004_verifications(db: Database) -> None:
    """A verified run: its checks with their source, each candidate's code hash and per-check results,
    the sandbox tier and limits, the rounds (chains.verify.store); never the environment or output."""
    db.executescript(
        """
        CREATE TABLE verifications (
            run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE, status TEXT NOT NULL,
            verified INTEGER NOT NULL, tier TEXT, candidates INTEGER, rounds INTEGER, model_calls INTEGER,
            exec_seconds REAL, record_json TEXT NOT NULL, created_at REAL NOT NULL
        );
        """
    )


def m005_run_files(db: Database) -> None:
    """Files attached to a run (chains.context): paths, hashes and token counts; content only if kept."""
    db.executescript(
        """
        CREATE TABLE run_files (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, root TEXT NOT NULL,
            path TEXT NOT NULL, sha256 TEXT, size INTEGER, tokens INTEGER, status TEXT NOT NULL,
            content TEXT
        );
        CREATE INDEX run_files_run ON run_files(run_id);
        """
    )


def m006_threads(db: Database) -> None:
    """Follow-up turns (chains.threads): a run belongs to a thread (a first run is its own, turn 1),
    continues `parent_run_id` (a regenerated turn shares its parent with the original; a fork's parent
    is in another thread)."""
    db.executescript(
        """
        ALTER TABLE runs ADD COLUMN thread_id TEXT;
        ALTER TABLE runs ADD COLUMN parent_run_id TEXT;
        ALTER TABLE runs ADD COLUMN turn INTEGER NOT NULL DEFAULT 1;
        UPDATE runs SET thread_id = id WHERE thread_id IS NULL;
        CREATE INDEX runs_thread ON runs(thread_id, turn);
        CREATE INDEX runs_parent ON runs(parent_run_id);
        """
    )


def m007_applies(db: Database) -> None:
    """A run's edits to the user's files (chains.edits): each reviewed file's patch and hashes, each
    refused edit's reason, the backup an apply kept and when it was undone; and the project's own
    test command run on a patched copy (edit_tests)."""
    db.executescript(
        """
        CREATE TABLE applies (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, root TEXT NOT NULL,
            path TEXT NOT NULL, status TEXT NOT NULL, reason TEXT, patch TEXT, sha256_before TEXT,
            sha256_after TEXT, backup_path TEXT, created_at REAL NOT NULL, applied_at REAL, undone_at REAL
        );
        CREATE INDEX applies_run ON applies(run_id);
        CREATE TABLE edit_tests (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, command TEXT NOT NULL,
            passed INTEGER NOT NULL, exit_code INTEGER, tier TEXT, seconds REAL, output_tail TEXT,
            created_at REAL NOT NULL
        );
        """
    )


def m008_served(db: Database) -> None:
    """`jarvis serve`: a served request's run says which client sent it, which model it asked for and the
    HTTP status it got (499: the client went away); `servers` is each serving process's heartbeat, so
    another process (the workbench) can show "serving :11435 · 2 in flight · 1 queued"."""
    db.executescript(
        """
        ALTER TABLE runs ADD COLUMN client TEXT;
        ALTER TABLE runs ADD COLUMN requested_model TEXT;
        ALTER TABLE runs ADD COLUMN http_status INTEGER;
        CREATE TABLE servers (
            pid INTEGER PRIMARY KEY, host TEXT NOT NULL, port INTEGER NOT NULL, started_at REAL NOT NULL,
            heartbeat_at REAL NOT NULL, in_flight INTEGER DEFAULT 0, queued INTEGER DEFAULT 0,
            served INTEGER DEFAULT 0
        );
        """
    )


def m009_key_usage(db: Database) -> None:
    """Each use of a cloud API key by the key's name (providers.keys), never the key: which model, the
    outcome (ok, rejected, rate_limited, failed), tokens and cost; `jarvis keys list` reads the last one."""
    db.executescript(
        """
        CREATE TABLE key_usage (
            id INTEGER PRIMARY KEY AUTOINCREMENT, provider TEXT NOT NULL, key_name TEXT NOT NULL,
            source TEXT, model_id TEXT, outcome TEXT NOT NULL, prompt_tokens INTEGER,
            completion_tokens INTEGER, cost_usd REAL DEFAULT 0, created_at REAL NOT NULL
        );
        CREATE INDEX key_usage_key ON key_usage(provider, key_name, created_at);
        """
    )


MIGRATIONS: tuple[Callable[[Database], None], ...] = (
    m001_initial,
    m002_attempts_and_answers,
    m003_eval_runs,
    m004_verifications,
    m005_run_files,
    m006_threads,
    m007_applies,
    m008_served,
    m009_key_usage,
)


def migrate(db: Database) -> list[str]:
    """Apply pending migrations in order; returns the names applied."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
    applied = []
    for fn in MIGRATIONS:
        if fn.__name__ in done:
            continue
        with db.conn:
            fn(db)
            db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", [fn.__name__, time.time()])
        applied.append(fn.__name__)
    return applied
