"""The project as an installable Python package: a wheel with the shipped weights, console scripts,
metadata, and an installed `melody` that works outside the repository."""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import melody

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel built from a copy of the repository's tracked files (so no build files land in the checkout)."""
    tmp = tmp_path_factory.mktemp("package")
    tracked = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    source = tmp / "source"
    for name in tracked:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp / "dist")], check=True, capture_output=True, timeout=300)
    return next((tmp / "dist").glob("melody_playground-*.whl"))


@pytest.mark.slow
def test_the_wheel_holds_the_package_its_weights_and_commands(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(info).decode()
        scripts = archive.read(info.replace("METADATA", "entry_points.txt")).decode()
    assert {"melody/shipped/rhythm.pt", "melody/shipped/classic.pt"} <= names and "melody/web/grid.js" in names
    assert not any(n.startswith(("tests/", "bench/")) for n in names)
    assert f"Version: {melody.__version__}" in metadata and "Requires-Python: >=3.11" in metadata
    assert "License-Expression: MIT" in metadata and "Provides-Extra: train" in metadata
    assert 'music21' in metadata and 'extra == "train"' in metadata  # training-only
    for command in ("melody = melody.cli:run", "melody-playground = melody.web.launch:main",
                    "melody-train = melody.train.command:run"):
        assert command in scripts


@pytest.mark.slow
def test_the_installed_package_finds_its_shipped_checkpoint_outside_the_repository(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(site)}
    code = "import melody; m = melody.load_model(); print(melody.__version__, m.path)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [melody.__version__, str(site / "melody" / "shipped" / "rhythm.pt")]
    version = subprocess.run([str(site / "bin" / "melody"), "--version"], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=120)
    assert version.stdout.strip() == f"melody {melody.__version__}"
    made = subprocess.run([str(site / "bin" / "melody"), "generate", "--seed", "C4 D4 E4", "--length", "8",
                           "--out", "x.mid"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "x.mid").stat().st_size > 0


def test_the_repository_is_a_gradio_space():
    """Hugging Face reads the README's front matter, requirements.txt and packages.txt."""
    text = (ROOT / "README.md").read_text()
    front = dict(line.split(": ", 1) for line in text.split("---\n")[1].strip().splitlines())
    pinned = next(line.split("==")[1] for line in (ROOT / "requirements.txt").read_text().splitlines()
                  if line.startswith("gradio=="))
    assert front["sdk"] == "gradio" and front["app_file"] == "app.py" and front["sdk_version"] == pinned
    packages = (ROOT / "packages.txt").read_text().split()
    system_deps = (ROOT / "scripts" / "system-deps.sh").read_text()
    assert packages == ["libfluidsynth3", "fluid-soundfont-gm"] and all(p in system_deps for p in packages)
