"""`jarvis run -f PATH --dir DIR` and `--rerun RUN_ID`: the project context a run is given, read now so a
missing path is one sentence before any model loads."""

from __future__ import annotations

from pathlib import Path


class ContextInputError(Exception):
    """A sentence for the user."""


def context_from_args(paths, args, config=None):
    """A ProjectContext from -f/--dir (None when neither is given). Raises ContextInputError."""
    if not (args.files or args.dirs):
        return None
    from jarvis.chains.context.collect import ContextError, collect
    from jarvis.chains.context.project import ProjectContext
    from jarvis.chains.context.repomap import DEFAULT_MAP_TOKENS

    if args.map_tokens is not None and args.map_tokens < 0:
        raise ContextInputError("--map-tokens must be 0 or more (0: no repo map).")
    try:
        got = collect(args.files, args.dirs)
    except ContextError as err:
        raise ContextInputError(str(err)) from None
    if not got.attachments:  # only empty or wholly ignored folders: say so before any model loads
        raise ContextInputError(" ".join(got.notices))
    return ProjectContext(
        got.root,
        tuple(got.attachments),
        tuple(got.notices),
        map_tokens=DEFAULT_MAP_TOKENS if args.map_tokens is None else args.map_tokens,
        cache_dir=paths.data_dir / "repomap",
        keep_content=args.keep_context,
        dirs=tuple(got.dirs),
    )


def context_shape(run: dict) -> dict:
    """How a stored run was given its files (ProjectContext.shape: -f files, --dir folders, map budget);
    {} for a run from before it was stored."""
    import json

    return json.loads(run.get("options_json") or "{}").get("context") or {}


def given_again(root: Path, recorded: list[Path], shape: dict) -> tuple[list[Path], list[Path]]:
    """The files and folders to attach again, as a run with this shape was given them: its -f files,
    its folders (walked again: new files join), and any recorded file neither names (never dropped
    unsaid). Files and folders gone since are left to the caller's notices."""
    if not shape:  # every file as if named with -f
        return list(recorded), []
    dirs = [(root / d).resolve() for d in shape.get("dirs", ()) if (root / d).is_dir()]
    named = [root / f for f in shape.get("files", ()) if (root / f).is_file()]
    rest = [p for p in recorded if p not in named and not any(d in p.resolve().parents for d in dirs)]
    return named + rest, dirs


def rerun_source(paths, run_id: str):
    """(task, chain, ProjectContext | None) of an earlier run, its files read again from disk and its
    folders walked again (a file added since joins). A file changed since is used as it is now (said in
    a notice); one gone is used from the kept copy when the run kept its files, else left out with a
    notice. Raises ContextInputError."""
    from dataclasses import replace

    from jarvis.chains.context.attachment import LEFT_OUT, Attachment
    from jarvis.chains.context.collect import collect, read_attachment
    from jarvis.chains.context.project import ProjectContext
    from jarvis.chains.context.repomap import DEFAULT_MAP_TOKENS
    from jarvis.chains.context.tokens import estimate_tokens
    from jarvis.chains.ledger import Ledger

    if not paths.database.exists():
        raise ContextInputError(f"There is no run {run_id}: nothing has run yet.")
    ledger = Ledger(paths.database)
    try:
        run = ledger.run(run_id)
        files = ledger.run_files(run_id) if run else []
    finally:
        ledger.close()
    if run is None:
        raise ContextInputError(f"There is no run {run_id} (see `jarvis history`).")
    if not files:
        return run["task"], run["chain"], None
    root = Path(files[0].root)
    # How the run was given its files (stored since -f/--dir shapes were kept); else guessed from status.
    shape = context_shape(run)
    named = set(shape.get("files", ())) if shape else None
    attachments: list[Attachment] = []
    notices: list[str] = []
    for f in files:
        path = root / f.path
        if path.is_file():
            a = read_attachment(path, root)
            if f.sha256 and a.sha256 != f.sha256:
                notices.append(f"{f.path} changed since {run_id}: its current version is attached.")
        elif f.content is not None:
            a = Attachment(f.path, path, f.sha256 or "", f.size or 0, estimate_tokens(f.content), f.content)
            notices.append(f"{f.path} is gone from {root}: the copy kept with {run_id} is attached.")
        else:
            a = Attachment(f.path, path, f.sha256 or "", f.size or 0, 0, "", LEFT_OUT, "it no longer exists")
            notices.append(f"{f.path} no longer exists in {root}: it is left out.")
        # A file that came with --dir keeps that role (the repo map may stand in for it).
        from_dir = f.path not in named if named is not None else f.status == "map"
        attachments.append(replace(a, source="dir" if from_dir else "file"))
    folders = [root / d for d in shape.get("dirs", ()) if (root / d).is_dir()]
    if folders:  # walked again: a file added to a folder since joins, as in a follow-up
        recorded = {a.rel_path for a in attachments}
        got = collect(dirs=folders, root=root)
        attachments += [a for a in got.attachments if a.rel_path not in recorded]
        notices += got.notices
    ctx = ProjectContext(
        root,
        tuple(attachments),
        tuple(notices),
        map_tokens=int(shape.get("map_tokens", DEFAULT_MAP_TOKENS)),
        cache_dir=paths.data_dir / "repomap",
        keep_content=bool(shape.get("keep_content", False)),
        dirs=tuple(shape.get("dirs", ())),
    )
    return run["task"], run["chain"], ctx
