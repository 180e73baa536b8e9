"""The shipped artefact: build the wheel, install it in a clean venv, run `jarvis` from elsewhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, dead_url

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)],
        check=True,
        cwd=out,
    )
    [whl] = out.glob("jarvis_workbench-*.whl")
    return whl


def test_wheel_has_one_namespaced_package_and_its_data(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {"jarvis", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}
    # No generic top-level names that could shadow other packages.
    assert not tops & {"app", "providers", "chains", "assets", "tests"}
    assert "jarvis/assets/catalog.toml" in names


def test_installed_wheel_runs_from_a_clean_venv(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--quiet", str(wheel)],
        check=True,
    )
    # Dependencies come from the test venv's site-packages (read-only, appended after the clean venv's own),
    # so this checks our wheel, not a 2-minute reinstall of everything else. The editable install's
    # import hook lives in a .pth there, which Python does not process for paths added this way.
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = {**os.environ, "JARVIS_HOME": str(tmp_path / "home"), "PYTHONPATH": ""}
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "config.toml").write_text(
        f'[ollama]\nhosts = [{{name = "ollama", url = "{dead_url()}"}}]\n[lmstudio]\nurl = "{dead_url()}"\n'
    )
    version = subprocess.run(
        [str(venv / "bin" / "jarvis"), "--version"],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=True,
    )
    assert version.stdout.strip() == "jarvis 0.1.0"
    where = subprocess.run(
        [str(py), "-c", "import jarvis.providers; print(jarvis.providers.__file__)"],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=True,
    ).stdout
    assert str(venv) in where, f"imported from {where}, not from the installed wheel"
    models = subprocess.run(
        [str(venv / "bin" / "jarvis"), "models", "--json"],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
    )
    assert models.returncode == 0, models.stderr
    doc = json.loads(models.stdout)
    assert [m["id"] for m in doc["models"]] == ["embedded/smollm2-135m"]
    assert doc["models"][0]["description"], "catalog data shipped inside the wheel"
