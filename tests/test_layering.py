"""Layers point down (app -> chains -> providers): checked statically over every file, and at run time."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import jarvis.providers
from tests.conftest import REPO

# What each layer may not import, by module prefix.
FORBIDDEN = {
    "providers": ("textual", "jarvis.app", "jarvis.chains", "app", "chains"),
    "chains": ("textual", "jarvis.app", "app"),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level > 1:
            found.add("..")  # reaching above its own package
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


@pytest.mark.slow  # a fresh interpreter, to see what it imports
def test_importing_the_engine_loads_no_textual_litellm_or_llama_cpp():
    import jarvis.chains

    names = [f"{pkg.__name__}.{m.name}" for pkg in (jarvis.providers, jarvis.chains)
             for m in pkgutil.iter_modules(pkg.__path__)]
    assert "jarvis.providers.ollama" in names and "jarvis.chains.orchestrator" in names
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in ('textual', 'litellm', 'llama_cpp', 'jarvis.app') if m in sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
