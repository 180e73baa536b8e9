"""Layers point down (app -> chains -> providers): checked statically over every file, and at run time."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# What each layer may not import, by module prefix.
FORBIDDEN = {
    "providers": ("textual", "jarvis.app", "jarvis.chains", "app", "chains"),
    "chains": ("textual", "jarvis.app", "app"),
}


def _package_of(path: Path) -> list[str] | None:
    """The dotted package a file of a layer folder is installed as
    (chains/verify/x.py -> jarvis.chains.verify)."""
    try:
        parts = path.resolve().relative_to(REPO).parts[:-1]
    except ValueError:
        return None
    return ["jarvis", *parts]


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, relative imports resolved against its package; '..' for one that
    reaches above its layer (e.g. `from .. import x` in chains/x.py)."""
    tree = ast.parse(path.read_text(), str(path))
    package = _package_of(path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            # The layer is jarvis.<layer>: going up to it is fine, above it is not.
            if package is None or node.level > len(package) - 1:
                found.add("..")
                continue
            base = package[: len(package) - node.level + 1]
            found.add(".".join(base + ([node.module] if node.module else [])))
    return found


def test_no_layer_imports_upward():
    offences = []
    for layer, banned in FORBIDDEN.items():
        files = sorted((REPO / layer).rglob("*.py"))
        assert files, f"no files in {layer}/"
        for path in files:
            for mod in imported_modules(path):
                if mod == ".." or any(mod == b or mod.startswith(b + ".") for b in banned):
                    offences.append(f"{path.relative_to(REPO)} imports {mod}")
    assert not offences, offences


def test_the_checker_catches_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from textual.app import App\nimport jarvis.app.cli\n")
    assert {"textual.app", "jarvis.app.cli"} <= imported_modules(bad)


def test_relative_imports_resolve_within_the_layer():
    # chains/verify/ may import its parent package chains/, which is not reaching above the layer.
    found = imported_modules(REPO / "chains" / "verify" / "verified_step.py")
    assert ".." not in found and any(m.startswith("jarvis.chains.") for m in found)
    top = imported_modules(REPO / "chains" / "orchestrator.py")
    assert ".." not in top and "jarvis.chains.run_options" in top


@pytest.mark.slow  # a fresh interpreter, to see what it imports
def test_importing_the_engine_loads_no_textual_litellm_or_llama_cpp():
    import jarvis.chains
    import jarvis.providers

    names = [
        m.name
        for pkg in (jarvis.providers, jarvis.chains)
        for m in pkgutil.walk_packages(pkg.__path__, f"{pkg.__name__}.")
    ]
    assert {"jarvis.providers.ollama", "jarvis.chains.orchestrator", "jarvis.chains.verify.sandbox"} <= set(
        names
    )
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in ('textual', 'litellm', 'llama_cpp', 'jarvis.app') if m in sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
